"""CLOCK_OFFSET_DAYS moves every clock of the local stack together, 400 days past the suite's own.

A stack of its own, started with the variable set: the emulated Cognito issues tokens at the
shifted time, the gateway judges them at that time, the functions stamp their writes with it,
the schedules plan their runs from it and the stand-ins record it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import urllib.request
import uuid
import warnings
from collections.abc import Iterator

import pytest

from local.clock import CLOCK_OFFSET_VARIABLE, clock_offset, epoch_seconds, utc_now
from local.stack import LocalStack, StackConfig
from tests.integration.conftest import forged_token, http, new_user_token

SHIFT = dt.timedelta(days=400)
TOLERANCE_SECONDS = 120


@pytest.fixture(scope="module")
def shifted() -> Iterator[LocalStack]:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CLOCK_OFFSET_VARIABLE, str((clock_offset() + SHIFT).days))
        config = StackConfig(api_port=0, aws_port=0, stage_throttling=False, run_schedules=True, log=lambda _: None)
        with LocalStack(config) as stack:
            yield stack


def real_epoch() -> float:
    """The real clock, or the suite's own when the whole run is shifted: where "now" would be
    without this module's extra 400 days."""
    return time.time() + (clock_offset() - SHIFT).total_seconds()


def near(moment: float, expected: float) -> bool:
    return abs(moment - expected) < TOLERANCE_SECONDS


def test_the_stack_reports_its_clock_to_clients(shifted):
    config = http(shifted, "GET", "/_local/config").body
    now = dt.datetime.fromisoformat(config["clock"]["now"].replace("Z", "+00:00")).timestamp()

    assert config["clock"]["offsetDays"] == clock_offset().days
    assert near(now, real_epoch() + SHIFT.total_seconds())


def test_the_emulated_cognito_issues_tokens_at_the_shifted_time_and_the_gateway_accepts_them(shifted):
    token = new_user_token(shifted)
    claims = _unverified_claims(token)

    assert near(claims["iat"], epoch_seconds()) and claims["exp"] - claims["iat"] == 3600
    assert claims["iat"] > real_epoch() + SHIFT.total_seconds() - TOLERANCE_SECONDS
    assert http(shifted, "GET", "/receipts", token=token).status == 200


def test_the_gateway_judges_expiry_on_the_shifted_clock(shifted):
    # Valid for another hour on the unshifted clock, expired for 399 days on the stack's.
    issued_unshifted = int(real_epoch())
    stale = forged_token(shifted, iat=issued_unshifted, exp=issued_unshifted + 3600)

    response = http(shifted, "GET", "/receipts", token=stale)

    assert response.status == 401 and response.body["error"] == "UNAUTHORIZED"


def test_a_reminder_due_at_the_shifted_date_is_sent_and_the_writes_carry_that_date(shifted):
    token = new_user_token(shifted)
    settings = {"reminderDaysBefore": [7], "weeklyDigestEnabled": False, "timezone": "UTC", "locale": "en"}
    assert http(shifted, "PUT", "/user/settings", {**settings, "serverVersion": 0}, token=token).status == 200
    registration = {"platform": "android", "token": f"fcm:{uuid.uuid4().hex}"}
    device = http(shifted, "POST", "/user/devices", registration, token=token)
    assert device.status == 201, device.body
    ends = (utc_now().date() + dt.timedelta(days=7)).isoformat()
    receipt = http(
        shifted,
        "POST",
        "/receipts",
        {"storeName": "Mega Electronics", "warrantyExpiryDate": ends, "userEditedFields": ["warrantyExpiryDate"]},
        token=token,
    ).body

    fired = http(shifted, "POST", "/_local/schedules/WarrantyCheckerFunction", {})  # the run of "now"

    created = dt.datetime.fromisoformat(receipt["createdAt"].replace("Z", "+00:00")).timestamp()
    assert near(created, real_epoch() + SHIFT.total_seconds())
    assert fired.status == 200 and fired.body["result"]["sent"] == 1, fired.body
    devices = http(shifted, "GET", "/_local/notifications").body["devices"]
    [reminder] = [
        message
        for entry in devices
        for message in entry["notifications"]
        if message["data"].get("receiptId") == receipt["receiptId"]
    ]
    assert reminder["notification"]["title"] == "Warranty ends in 7 days"


def test_the_schedules_plan_their_next_run_from_the_shifted_clock(shifted):
    deadline = time.monotonic() + 10
    source = shifted.triggers.schedules["WarrantyCheckerFunction"]
    while source.next_run is None and time.monotonic() < deadline:
        time.sleep(0.1)

    assert source.next_run is not None
    ahead = source.next_run.timestamp() - epoch_seconds()
    assert 0 < ahead <= 86400  # the next 08:00 UTC of the stack's day, not of the real one


def test_the_stand_ins_and_the_refinement_run_on_the_shifted_clock(shifted):
    token = new_user_token(shifted)
    receipt = http(shifted, "POST", "/receipts", {"ocrRawText": "LIDL\nTOTAL EUR 3,59"}, token=token).body

    refined = http(shifted, "POST", f"/receipts/{receipt['receiptId']}/refine", {}, token=token)

    assert refined.status == 200, refined.body
    refined_at = dt.datetime.fromisoformat(refined.body["refinement"]["refinedAt"].replace("Z", "+00:00"))
    assert near(refined_at.timestamp(), epoch_seconds())
    with urllib.request.urlopen(f"{shifted.standins.url}/_requests", timeout=5) as response:
        recorded = json.load(response)["requests"][-1]["at"]
    assert near(dt.datetime.fromisoformat(recorded.replace("Z", "+00:00")).timestamp(), epoch_seconds())


def _unverified_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
