"""The calendar feed through the local stack, as a calendar app uses it: subscribe with curl,
poll with the ETag, see an edit, and lose the old URL when the token is rotated."""

from __future__ import annotations

import subprocess
import uuid

import icalendar

from receipt_vault.clock import utc_now
from tests.integration.conftest import http, new_user_token


def curl(url: str, *headers: str) -> tuple[int, dict[str, str], bytes]:
    """A GET as a calendar app sends it: no Authorization, maybe If-None-Match."""
    command = ["curl", "--silent", "--show-error", "--include", "--max-time", "20"]
    for header in headers:
        command += ["--header", header]
    output = subprocess.run([*command, url], check=True, capture_output=True, timeout=30).stdout  # noqa: S603 (curl, the stack's own URL)
    head, _, body = output.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), fields, body


def test_subscribe_poll_edit_and_rotate(stack):
    token = new_user_token(stack)
    purchased = utc_now().date().isoformat()
    receipt = http(
        stack,
        "POST",
        "/receipts",
        {"storeName": "MediaMarkt; Athens", "purchaseDate": purchased, "totalAmount": "99.00", "warrantyMonths": 24},
        token=token,
    ).body
    enabled = http(stack, "POST", "/user/calendar-feed", token=token)
    assert enabled.status == 201, enabled.body
    url = enabled.body["feedUrl"]
    assert url.startswith(f"{stack.api_url}/calendar/") and url.endswith(".ics")

    status, headers, body = curl(url)
    assert status == 200 and headers["content-type"].startswith("text/calendar")
    [event] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(event["UID"]).startswith(f"warranty-{receipt['receiptId']}-")
    assert str(event["SUMMARY"]) == "Warranty ends: MediaMarkt; Athens"
    etag = headers["etag"]

    status, headers, body = curl(url, f"If-None-Match: {etag}")
    assert (status, body) == (304, b"") and headers["etag"] == etag

    edited = {**http(stack, "GET", f"/receipts/{receipt['receiptId']}", token=token).body, "warrantyMonths": 36}
    assert http(stack, "PUT", f"/receipts/{receipt['receiptId']}", edited, token=token).status == 200
    status, headers, body = curl(url, f"If-None-Match: {etag}")
    assert status == 200 and headers["etag"] != etag
    [changed] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(changed["UID"]) == str(event["UID"]) and int(changed["SEQUENCE"]) > int(event["SEQUENCE"])
    assert changed.decoded("DTSTART") > event.decoded("DTSTART")  # a year more of cover

    rotated = http(stack, "POST", "/user/calendar-feed", token=token).body["feedUrl"]
    assert curl(url)[0] == 404
    assert curl(rotated)[0] == 200
    assert curl(f"{stack.api_url}/calendar/{uuid.uuid4().hex}.ics")[0] == 404
