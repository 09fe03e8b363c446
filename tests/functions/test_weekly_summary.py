"""weekly-summary: one digest per opted-in user with a live warranty, once per week, no scan."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from local.cfn_template import PROJECT_ROOT
from receipt_vault.receipts.layout import new_receipt_item
from receipt_vault.receipts.models import ReceiptCreate
from tests.conftest import TABLE_NAME, DynamoCalls, load_function
from tests.support import push
from tests.support.api_events import lambda_context

WEEKLY_EVENT = json.loads((PROJECT_ROOT / "events" / "weekly_summary" / "weekly_schedule.json").read_text())
RUN = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)  # the captured event's time: a Monday
CREATED = RUN - dt.timedelta(days=20)


@pytest.fixture
def applications(aws) -> dict[str, str]:
    return push.platform_applications()


@pytest.fixture
def summary(table, applications, monkeypatch) -> Any:
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    return load_function("weekly_summary")


def run(summary, moment: dt.datetime = RUN) -> dict[str, Any]:
    return summary.lambda_handler({**WEEKLY_EVENT, "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}, lambda_context())


def a_user(table, applications, user: str, opted_in: bool = True, timezone: str = "Europe/Berlin") -> str:
    """A user with one device and the settings PUT /user/settings writes."""
    _, arn = push.add_device(table, applications, user)
    names = {"#tz": "timezone"}
    if opted_in:
        table.update_item(
            Key={"PK": f"USER#{user}", "SK": "META#SETTINGS"},
            UpdateExpression="SET #tz = :tz, weeklyDigestEnabled = :on, jobPK = :pk, jobSK = :sk",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":tz": timezone, ":on": True, ":pk": "DIGEST#WEEKLY", ":sk": f"USER#{user}"},
        )
    else:
        table.update_item(
            Key={"PK": f"USER#{user}", "SK": "META#SETTINGS"},
            UpdateExpression="SET #tz = :tz, weeklyDigestEnabled = :off",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":tz": timezone, ":off": False},
        )
    return arn


def add_warranty(table, user: str, days: int, total: str = "100.00", currency: str = "EUR", store="Dyson", **kw) -> str:
    receipt_id = str(uuid.uuid4())
    expiry = (RUN.date() + dt.timedelta(days=days)).isoformat()
    request = ReceiptCreate(
        storeName=store,
        totalAmount=total,
        currency=currency,
        warrantyExpiryDate=expiry,
        userEditedFields=["warrantyExpiryDate"],
        **kw,
    )
    table.put_item(Item=new_receipt_item(user, receipt_id, request, CREATED))
    return receipt_id


def test_an_opted_in_user_gets_the_specs_summary(summary, table, applications):
    arn = a_user(table, applications, "user-a")
    soonest = add_warranty(table, "user-a", 2, "1299.00", store="Dyson")
    add_warranty(table, "user-a", 20, "49.99", store="Tchibo")
    add_warranty(table, "user-a", 200, "10.00", "USD", store="Apple")

    result = run(summary)

    assert result["sent"] == 1
    [message] = push.pushes(arn)
    assert message["notification"] == {
        "title": "Your warranties this week",
        "body": "1 warranty ends this week, 2 this month. 3 active warranties worth 1348.99 EUR + 10.00 USD. "
        "Next to end: Dyson on 25 Nov.",
    }
    assert message["data"] == {
        "type": "weeklyDigest",
        "receiptId": soonest,
        "expiringThisWeek": "1",
        "expiringThisMonth": "2",
        "totalActive": "3",
    }


def test_users_who_did_not_opt_in_get_nothing_and_their_receipts_are_not_read(summary, table, applications):
    opted_out = a_user(table, applications, "user-out", opted_in=False)
    add_warranty(table, "user-out", 3)
    opted_in = a_user(table, applications, "user-in")
    add_warranty(table, "user-in", 3)
    calls = DynamoCalls(summary.table.client)

    result = run(summary)

    assert result["opted_in"] == 1 and result["sent"] == 1
    assert push.pushes(opted_out) == [] and len(push.pushes(opted_in)) == 1
    assert "Scan" not in calls.counts
    warranty_queries = [p for name, p in calls.requests if name == "Query" and p["IndexName"] == "ByWarrantyExpiry"]
    assert len(warranty_queries) == 1 and "user-in" in json.dumps(warranty_queries[0])


def test_a_user_with_no_active_warranty_gets_nothing(summary, table, applications):
    arn = a_user(table, applications, "user-a")
    add_warranty(table, "user-a", 5, status="returned")  # not active: not in the warranty index
    add_warranty(table, "user-a", -2)  # ended, not yet swept

    result = run(summary)

    assert result["without_warranty"] == 1 and result["sent"] == 0
    assert push.pushes(arn) == []


def test_the_digest_is_sent_once_per_week_however_often_the_run_is_repeated(summary, table, applications):
    arn = a_user(table, applications, "user-a")
    add_warranty(table, "user-a", 10)

    results = [run(summary), run(summary), run(summary, RUN + dt.timedelta(hours=1))]
    next_week = run(summary, RUN + dt.timedelta(days=7))

    assert [result["sent"] for result in results] == [1, 0, 0]
    assert next_week["sent"] == 1
    assert len(push.pushes(arn)) == 2


def test_this_week_is_counted_from_the_users_own_day(summary, table, applications):
    # 09:00 UTC Monday is still Sunday night in Honolulu: a warranty ending next Sunday
    # (day 6 from Monday) is 7 days away there, outside "this week".
    berlin = a_user(table, applications, "user-berlin")
    honolulu = a_user(table, applications, "user-honolulu", timezone="Pacific/Honolulu")
    add_warranty(table, "user-berlin", 6)
    add_warranty(table, "user-honolulu", 6)

    run(summary)

    assert push.pushes(berlin)[0]["data"]["expiringThisWeek"] == "1"
    assert push.pushes(honolulu)[0]["data"]["expiringThisWeek"] == "0"
    assert push.pushes(honolulu)[0]["data"]["expiringThisMonth"] == "1"


def test_a_failure_for_one_user_never_stops_the_others_and_the_retry_completes(summary, table, applications):
    from receipt_vault.scheduled_jobs import RunIncompleteError

    broken = a_user(table, applications, "user-a")
    healthy = a_user(table, applications, "user-b")
    receipt = add_warranty(table, "user-a", 3)
    add_warranty(table, "user-b", 3)
    key = {"PK": "USER#user-a", "SK": f"RECEIPT#{receipt}"}
    corrupt = {":bad": "?"}
    table.update_item(Key=key, UpdateExpression="SET warrantyExpiryDate = :bad", ExpressionAttributeValues=corrupt)

    with pytest.raises(RunIncompleteError):
        run(summary)
    assert push.pushes(broken) == [] and len(push.pushes(healthy)) == 1

    table.update_item(
        Key=key, UpdateExpression="SET warrantyExpiryDate = :ok", ExpressionAttributeValues={":ok": "2026-11-26"}
    )
    retry = run(summary)

    assert (retry["sent"], retry["already_sent"]) == (1, 1)
    assert len(push.pushes(broken)) == 1 and len(push.pushes(healthy)) == 1
