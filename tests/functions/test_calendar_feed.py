"""The calendar feed through its function: a secret URL per user, rotated and revoked at once, a
feed of the live warranties only, 304 for an unchanged one, and a bounded cost per request."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest

from receipt_vault import keys
from receipt_vault.clock import utc_now
from tests.conftest import ApiClient, DynamoCalls, assert_error_shape, load_function, put_receipt
from tests.support.api_events import api_event, lambda_context

FEED_SETTINGS = "/user/calendar-feed"
FEED = "/calendar/{feedFile}"


@pytest.fixture
def feeds(api_env):
    return load_function("calendar_feed")


@pytest.fixture
def crud(api_env) -> ApiClient:
    return ApiClient(load_function("receipt_crud"))


def enable(feeds, user: str = "user-a") -> str:
    """The feed file (`<token>.ics`) of the URL the user was given."""
    response = ApiClient(feeds).call("POST", FEED_SETTINGS, user=user)
    assert response.status == 201, response.body
    return urlsplit(response.body["feedUrl"]).path.rsplit("/", 1)[1]


def fetch(feeds, feed_file: str, headers: dict[str, str] | None = None, source: str = "198.51.100.7"):
    """The raw proxy response (a calendar is no JSON), its headers merged as API Gateway does."""
    event = api_event("GET", FEED, path_parameters={"feedFile": feed_file}, user=None, headers=headers)
    event["requestContext"]["identity"]["sourceIp"] = source
    response = feeds.lambda_handler(event, lambda_context())
    merged = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        merged[name] = ",".join(values)
    return {**response, "headers": merged}


def events_of(response: dict[str, Any]) -> dict[str, icalendar.Event]:
    assert response["statusCode"] == 200, response.get("body")
    assert response["headers"]["Content-Type"].startswith("text/calendar")
    return {str(event["UID"]): event for event in icalendar.Calendar.from_ical(response["body"]).walk("VEVENT")}


def a_warranty(table, user: str = "user-a", months: int = 24, **fields: Any) -> dict[str, Any]:
    today = utc_now().date()
    return put_receipt(
        table, user=user, storeName="MediaMarkt", purchaseDate=today.isoformat(), warrantyMonths=months, **fields
    )


def uid(receipt: dict[str, Any], user: str = "user-a") -> str:
    return f"warranty-{receipt['receiptId']}-{keys.user_digest(user)[:16]}@receiptvault"


def test_the_url_is_where_the_api_is_and_the_feed_holds_the_live_warranties_only(feeds, table, crud):
    live = a_warranty(table)
    a_warranty(table, months=0)  # no warranty
    past = utc_now().date() - dt.timedelta(days=400)
    put_receipt(table, storeName="Old", purchaseDate=past.isoformat(), warrantyMonths=12)  # ended
    returned = a_warranty(table)  # not active: no reminders, no event
    path = {"receiptId": returned["receiptId"]}
    change = {"status": "returned", "serverVersion": 1}
    assert crud.call("PATCH", "/receipts/{receiptId}/status", path_parameters=path, body=change).status == 200
    a_warranty(table, user="user-b")  # another user's

    response = ApiClient(feeds).call("POST", FEED_SETTINGS, headers={"Host": "api.example.com"})

    assert response.status == 201
    url = urlsplit(response.body["feedUrl"])
    assert (url.scheme, url.netloc) == ("https", "api.example.com") and url.path.startswith("/dev/calendar/")
    feed_file = url.path.rsplit("/", 1)[1]
    assert len(feed_file) == 43 + len(".ics")
    assert set(events_of(fetch(feeds, feed_file))) == {uid(live)}


def test_only_the_tokens_hash_is_stored(feeds, table):
    feed_file = enable(feeds)
    token = feed_file.removesuffix(".ics")

    stored = table.scan()["Items"]

    assert token not in repr(stored)
    digest = hashlib.sha256(token.encode()).hexdigest()
    [item] = [item for item in stored if item["PK"].startswith("CALFEED#")]
    assert item["PK"] == f"CALFEED#{digest}" and item["userId"] == "user-a"


def test_an_unchanged_feed_is_a_304_and_an_edit_changes_its_etag_and_raises_the_sequence(feeds, table, crud):
    receipt = a_warranty(table)
    feed_file = enable(feeds)
    first = fetch(feeds, feed_file)
    etag = first["headers"]["ETag"]

    for tags in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        assert fetch(feeds, feed_file, headers={"If-None-Match": tags})["statusCode"] == 304, tags
    again = fetch(feeds, feed_file, headers={"If-None-Match": etag})
    assert again["statusCode"] == 304 and again["headers"]["ETag"] == etag and not again.get("body")
    assert first["headers"]["Cache-Control"] == "private, max-age=300"

    current = crud.call("GET", "/receipts/{receiptId}", path_parameters={"receiptId": receipt["receiptId"]}).body
    body = {**current, "warrantyMonths": 36}
    path = {"receiptId": receipt["receiptId"]}
    assert crud.call("PUT", "/receipts/{receiptId}", path_parameters=path, body=body).status == 200

    edited = fetch(feeds, feed_file, headers={"If-None-Match": etag})
    assert edited["statusCode"] == 200 and edited["headers"]["ETag"] != etag
    before, after = events_of(first)[uid(receipt)], events_of(edited)[uid(receipt)]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("DTSTART") > before.decoded("DTSTART")


def test_a_rotated_or_revoked_token_is_a_404_at_once(feeds):
    old = enable(feeds)
    new = enable(feeds)  # rotated

    assert fetch(feeds, old)["statusCode"] == 404
    assert fetch(feeds, new)["statusCode"] == 200
    assert ApiClient(feeds).call("DELETE", FEED_SETTINGS).status == 204
    assert fetch(feeds, new)["statusCode"] == 404
    assert ApiClient(feeds).call("DELETE", FEED_SETTINGS).status == 204  # nothing to revoke: still fine


def test_another_users_rotation_or_revocation_never_touches_this_feed(feeds):
    mine = enable(feeds, user="user-a")
    enable(feeds, user="user-b")
    assert ApiClient(feeds).call("DELETE", FEED_SETTINGS, user="user-b").status == 204

    assert fetch(feeds, mine)["statusCode"] == 200


@pytest.mark.parametrize(
    "feed_file",
    ["x.ics", "A" * 43 + ".ics", "A" * 43, "A" * 43 + ".ics/../x", "%00.ics", "é" * 43 + ".ics"],
)
def test_an_unknown_or_malformed_token_is_a_404_in_the_error_shape(feeds, feed_file):
    enable(feeds)
    response = fetch(feeds, feed_file)

    assert response["statusCode"] == 404
    assert_error_shape(
        ApiClient(feeds).call("GET", FEED, path_parameters={"feedFile": feed_file}, user=None), 404, "NOT_FOUND"
    )


def test_a_source_guessing_tokens_is_slowed_to_a_429_until_the_hour_ends(feeds):
    guesses = [fetch(feeds, f"{uuid.uuid4().hex}{uuid.uuid4().hex[:11]}.ics", source="203.0.113.9") for _ in range(31)]

    assert [guess["statusCode"] for guess in guesses] == [404] * 30 + [429]
    assert 1 <= int(guesses[-1]["headers"]["Retry-After"]) <= 3600
    assert fetch(feeds, "B" * 43 + ".ics", source="203.0.113.10")["statusCode"] == 404  # others are not slowed


def test_an_account_being_erased_has_no_feed_and_its_erasure_removes_the_token(feeds, table):
    from user_deletion.erasure_store import ErasureStore

    feed_file = enable(feeds)
    table.put_item(Item={**keys.erasure_key("user-a"), "status": "in_progress"})
    assert fetch(feeds, feed_file)["statusCode"] == 404

    ErasureStore(feeds.table).delete_user_partition("user-a")

    assert not [item for item in table.scan()["Items"] if item["PK"].startswith("CALFEED#")]


@pytest.mark.parametrize(("receipts", "live"), [(10, 10), (5000, 10)])
def test_a_feed_request_costs_the_same_calls_for_10_warranties_as_for_5000_receipts_with_10_live(
    feeds, table, receipts, live
):
    today = utc_now().date()
    with table.batch_writer() as batch:
        for index in range(receipts):
            receipt_id = str(uuid.uuid4())
            item = {"PK": "USER#user-a", "SK": f"RECEIPT#{receipt_id}", "receiptId": receipt_id, "status": "active"}
            if index < live:
                expiry = (today + dt.timedelta(days=30 + index)).isoformat()
                item.update(
                    warrantyPK="USER#user-a#ACTIVE",
                    warrantySK=f"{expiry}#{receipt_id}",
                    warrantyExpiryDate=expiry,
                    serverVersion=1,
                    updatedAt="2026-11-30T08:15:00.000Z",
                )
            batch.put_item(Item=item)
    feed_file = enable(feeds)
    calls = DynamoCalls(feeds.table.client)

    assert len(events_of(fetch(feeds, feed_file))) == live

    assert calls.counts == {"GetItem": 1, "BatchGetItem": 1, "Query": 1}
    assert [params["IndexName"] for name, params in calls.requests if name == "Query"] == ["ByWarrantyExpiry"]


def test_the_feed_follows_the_users_timezone_and_reminder_offsets(feeds, table):
    receipt = a_warranty(table)
    table.put_item(
        Item={
            "PK": "USER#user-a",
            "SK": "META#SETTINGS",
            "timezone": "Pacific/Auckland",
            "reminderDaysBefore": [14, 1],
            "serverVersion": 1,
        }
    )
    event = events_of(fetch(feeds, enable(feeds)))[uid(receipt)]

    triggers = sorted(alarm.decoded("TRIGGER") for alarm in event.walk("VALARM"))
    expiry = event.decoded("DTSTART")
    assert len(triggers) == 2
    for trigger, days in zip(triggers, (14, 1), strict=True):
        local = trigger.astimezone(ZoneInfo("Pacific/Auckland"))
        assert (local.date(), local.hour) == (expiry - dt.timedelta(days=days), 9)


def test_the_same_receipt_id_in_two_accounts_is_two_events_with_two_uids(feeds, table):
    mine = a_warranty(table, user="user-a")
    theirs = {**mine, "PK": "USER#user-b", "warrantyPK": "USER#user-b#ACTIVE"}  # a client-chosen id, reused
    table.put_item(Item=theirs)

    [mine_uid] = events_of(fetch(feeds, enable(feeds, user="user-a")))
    [their_uid] = events_of(fetch(feeds, enable(feeds, user="user-b")))

    assert mine_uid == uid(mine) and their_uid == uid(mine, user="user-b") and mine_uid != their_uid


# -- extended cover and void, as the feed shows them --------------------------------------------------


def test_the_feed_shows_the_cover_in_force_and_drops_a_voided_warranty_until_it_is_active_again(feeds, crud):
    today = utc_now().date()
    body = {
        "storeName": "MediaMarkt",
        "purchaseDate": today.isoformat(),
        "warrantyMonths": 12,
        "extendedWarranty": {"provider": "CarePlus", "months": 36, "cost": "49.90", "reference": "CP-1"},
    }
    extended = crud.call("POST", "/receipts", body=body).body
    voided = crud.call("POST", "/receipts", body={**body, "storeName": "Kotsovolos", "warrantyStatus": "void"}).body
    feed_file = enable(feeds)

    events = events_of(fetch(feeds, feed_file))

    assert set(events) == {uid(extended)}
    event = events[uid(extended)]
    assert str(event["SUMMARY"]) == "Extended warranty ends: MediaMarkt"
    assert event.decoded("DTSTART") > dt.date.fromisoformat(extended["warrantyExpiryDate"])
    active = {**voided, "warrantyStatus": "active"}
    path = {"receiptId": voided["receiptId"]}
    assert crud.call("PUT", "/receipts/{receiptId}", path_parameters=path, body=active).status == 200
    assert set(events_of(fetch(feeds, feed_file))) == {uid(extended), uid(voided)}


@pytest.mark.parametrize(
    "cover",
    [
        {"provider": "CarePlus"},
        {"provider": "CarePlus", "months": 12, "expiryDate": "2030-01-01"},
        {"provider": "CarePlus", "months": 601},
        {"provider": "", "months": 12},
        {"months": 12},
        {"provider": "CarePlus", "months": 12, "insurer": "x"},
    ],
)
def test_an_extended_cover_that_does_not_say_when_it_ends_is_a_400_and_nothing_is_written(crud, table, cover):
    response = crud.call("POST", "/receipts", body={"storeName": "MediaMarkt", "extendedWarranty": cover})

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert not [item for item in table.scan()["Items"] if item["SK"].startswith("RECEIPT#")]


def test_a_throttled_table_is_a_429_to_retry_and_the_old_feed_still_works(feeds, monkeypatch):
    from botocore.exceptions import ClientError

    old = enable(feeds)
    client = feeds.table.client

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "TransactWriteItems")

    monkeypatch.setattr(client, "transact_write_items", throttled)
    response = ApiClient(feeds).call("POST", FEED_SETTINGS)

    assert_error_shape(response, 429, "RATE_LIMITED")
    monkeypatch.undo()
    assert fetch(feeds, old)["statusCode"] == 200  # nothing was rotated
