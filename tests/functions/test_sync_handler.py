"""sync-handler through its Lambda handler, against moto, with the table from template.yaml."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from receipt_vault.clock import utc_now
from tests.conftest import ApiClient, DynamoCalls, assert_error_shape, load_function, put_receipt

NOW = utc_now()


@pytest.fixture
def sync(api_env, monkeypatch) -> ApiClient:
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    return ApiClient(load_function("sync_handler"))


@pytest.fixture
def calls(sync) -> DynamoCalls:
    return DynamoCalls(sync.module.sync.store.table.client)


def pull(sync: ApiClient, user: str = "user-a", **body: Any):
    return sync.call("POST", "/sync/pull", body=body, user=user)


def push(sync: ApiClient, items: list[Any], user: str = "user-a"):
    return sync.call("POST", "/sync/push", body={"items": items}, user=user)


def stored(table, user: str, receipt_id: str) -> dict[str, Any]:
    return table.get_item(Key={"PK": f"USER#{user}", "SK": f"RECEIPT#{receipt_id}"})["Item"]


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- pull ------------------------------------------------------------------------------------


def test_a_first_pull_returns_everything_with_tombstones_apart(sync, table):
    kept = put_receipt(table, storeName="Lidl")
    gone = put_receipt(table, status="deleted")

    response = pull(sync)

    assert response.status == 200, response.body
    body = response.body
    assert [item["receiptId"] for item in body["items"]] == [kept["receiptId"]]
    assert body["deleted"] == [gone["receiptId"]]
    assert "nextCursor" not in body and body["fullSyncRequired"] is False


def test_pull_returns_only_changes_after_the_last_sync(sync, table):
    before = put_receipt(table)
    after_first = iso(utc_now() + dt.timedelta(milliseconds=5))
    later = _many_receipts(table, 2, moment=utc_now() + dt.timedelta(seconds=1))

    body = pull(sync, lastSyncTimestamp=after_first).body

    assert [item["receiptId"] for item in body["items"]] == later
    assert before["receiptId"] not in [item["receiptId"] for item in body["items"]]


def test_the_sync_timestamp_leaves_a_margin_so_a_write_landing_during_a_pull_is_not_skipped(sync, table):
    """A write stamped just before the pull but committed after its query must come next time."""
    real_changed_since = sync.module.sync.store.changed_since
    late = {}

    def query_then_a_late_write(*args, **kwargs):
        page = real_changed_since(*args, **kwargs)
        late.update(put_receipt(table, storeName="late"))
        # stamped 5 s before the pull began, as a slow writer would
        stamp = iso(utc_now() - dt.timedelta(seconds=5))
        table.update_item(
            Key={"PK": late["PK"], "SK": late["SK"]},
            UpdateExpression="SET updatedAt = :t, byUpdatedSK = :k",
            ExpressionAttributeValues={":t": stamp, ":k": f"{stamp}#{late['receiptId']}"},
        )
        return page

    sync.module.sync.store.changed_since = query_then_a_late_write
    first = pull(sync).body
    sync.module.sync.store.changed_since = real_changed_since

    second = pull(sync, lastSyncTimestamp=first["syncTimestamp"]).body

    assert late["receiptId"] not in [item["receiptId"] for item in first["items"]]
    assert late["receiptId"] in [item["receiptId"] for item in second["items"]]
    assert first["syncTimestamp"] <= iso(utc_now() - dt.timedelta(seconds=59))


def test_a_last_sync_older_than_the_tombstone_window_requires_a_full_sync(sync, table):
    put_receipt(table)

    body = pull(sync, lastSyncTimestamp=iso(NOW - dt.timedelta(days=31))).body

    assert body["fullSyncRequired"] is True and body["items"] == [] and body["deleted"] == []


def test_pagination_of_1000_changes_returns_every_item_exactly_once(sync, table):
    receipt_ids = _many_receipts(table, 1000)
    seen: list[str] = []
    cursor = None
    while True:
        body = pull(sync, limit=100, **({"cursor": cursor} if cursor else {})).body
        seen += [item["receiptId"] for item in body["items"]] + body["deleted"]
        cursor = body.get("nextCursor")
        if not cursor:
            break

    assert len(seen) == 1000 and set(seen) == set(receipt_ids)


def _many_receipts(table, count: int, user: str = "user-a", moment: dt.datetime = NOW) -> list[str]:
    from receipt_vault.receipts.layout import new_receipt_item
    from receipt_vault.receipts.models import ReceiptCreate

    ids = []
    with table.batch_writer() as writer:
        for index in range(count):
            stamped = moment + dt.timedelta(milliseconds=index)
            item = new_receipt_item(user, str(uuid.uuid4()), ReceiptCreate(storeName=f"Store {index}"), stamped)
            writer.put_item(Item=item)
            ids.append(item["receiptId"])
    return ids


def test_a_pull_of_n_changes_makes_n_over_page_queries_and_n_over_100_batch_gets(sync, table, calls):
    _many_receipts(table, 250)
    calls.reset()
    cursor = None
    while True:
        body = pull(sync, limit=100, **({"cursor": cursor} if cursor else {})).body
        cursor = body.get("nextCursor")
        if not cursor:
            break

    assert calls.counts == {"Query": 3, "BatchGetItem": 3}
    assert all(request.get("IndexName") == "ByUpdatedAt" for name, request in calls.requests if name == "Query")


@pytest.mark.parametrize("cursor", ["garbage", "a.b"])
def test_a_tampered_cursor_is_400(sync, cursor):
    assert_error_shape(pull(sync, cursor=cursor), 400, "VALIDATION_ERROR")


def test_a_cursor_is_bound_to_its_user_and_last_sync(sync, table):
    _many_receipts(table, 3)
    cursor = pull(sync, limit=1).body["nextCursor"]

    assert_error_shape(pull(sync, user="user-b", limit=1, cursor=cursor), 400, "VALIDATION_ERROR")
    assert_error_shape(pull(sync, limit=1, cursor=cursor, lastSyncTimestamp=iso(NOW)), 400, "VALIDATION_ERROR")


def test_pull_and_full_accept_an_empty_body(sync):
    for path in ("/sync/pull", "/sync/full"):
        assert sync.call("POST", path).status == 200


# -- push ------------------------------------------------------------------------------------


def test_a_receipt_made_offline_is_created(sync, table):
    receipt_id = str(uuid.uuid4())

    [result] = push(sync, [{"receiptId": receipt_id, "storeName": "Lidl", "totalAmount": "3.20"}]).body["results"]

    assert result["outcome"] == "accepted" and result["serverVersion"] == 1
    assert stored(table, "user-a", receipt_id)["storeName"] == "Lidl"


def test_changes_on_the_current_version_apply(sync, table):
    receipt = put_receipt(table, storeName="Lidl", notes="old")

    [result] = push(
        sync, [{"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "new", "storeName": "LIDL Athens"}]
    ).body["results"]

    assert result["outcome"] == "accepted" and result["serverVersion"] == 2
    assert result["item"]["notes"] == "new" and result["item"]["storeName"] == "LIDL Athens"


def test_a_stale_push_is_merged_field_by_field_with_the_three_tiers(sync, table):
    receipt = put_receipt(table, storeName="Refined Store", totalAmount="10.00", notes="server note")
    table.update_item(
        Key={"PK": receipt["PK"], "SK": receipt["SK"]},
        UpdateExpression="SET serverVersion = :v",
        ExpressionAttributeValues={":v": 3},
    )

    [result] = push(
        sync,
        [
            {
                "receiptId": receipt["receiptId"],
                "serverVersion": 1,
                "storeName": "Typed by user",
                "totalAmount": "99.00",
                "notes": "device note",
                "userEditedFields": ["storeName"],
            }
        ],
    ).body["results"]

    item = result["item"]
    assert result["outcome"] == "merged" and result["serverVersion"] == 4
    assert item["storeName"] == "Typed by user"  # tier 3, user-edited: the device wins
    assert item["totalAmount"] == "10.00"  # tier 3, not user-edited: the server stands
    assert item["notes"] == "device note"  # tier 2: the device wins
    assert item["userEditedFields"] == ["storeName"]


def test_a_null_removes_a_field_and_an_absent_field_is_untouched(sync, table):
    receipt = put_receipt(table, storeName="Lidl", notes="keep me", tags=["x"])

    [result] = push(sync, [{"receiptId": receipt["receiptId"], "serverVersion": 1, "tags": None}]).body["results"]

    assert "tags" not in result["item"] and result["item"]["notes"] == "keep me"


def test_one_bad_item_never_fails_the_batch(sync, table):
    good = str(uuid.uuid4())

    response = push(
        sync,
        [
            {"receiptId": good, "storeName": "Good"},
            {"receiptId": str(uuid.uuid4()), "totalAmount": 12.5},
            {"storeName": "no id"},
            "not even an object",
            {"receiptId": good, "notes": "twice"},
        ],
    )

    assert response.status == 200
    outcomes = [result["outcome"] for result in response.body["results"]]
    assert outcomes == ["accepted", "rejected", "rejected", "rejected", "rejected"]
    rejected = response.body["results"][1]
    assert rejected["error"]["error"] == "VALIDATION_ERROR" and rejected["error"]["details"]
    assert stored(table, "user-a", good)["storeName"] == "Good"


def test_an_item_no_answer_could_hold_is_rejected_alone_and_named_by_nothing_it_sent(sync, table):
    good = str(uuid.uuid4())

    response = push(sync, [{"receiptId": good, "storeName": "first"}, {"receiptId": "\ud800"}, {"x\udfff": 1}])

    assert response.status == 200  # and its body is UTF-8 (ApiClient checks)
    accepted, lone_id, lone_key = response.body["results"]
    assert accepted["outcome"] == "accepted" and stored(table, "user-a", good)["storeName"] == "first"
    assert lone_id["outcome"] == lone_key["outcome"] == "rejected"
    assert "\ud800" not in json.dumps(lone_id, ensure_ascii=False)


def test_an_unknown_key_of_the_push_is_a_400_that_names_no_key_it_sent(sync):
    for key in ("\ud800", "john.doe@example.com"):
        response = sync.call("POST", "/sync/push", body={"items": [{"receiptId": str(uuid.uuid4())}], key: 1})
        assert_error_shape(response, 400, "VALIDATION_ERROR")
        assert key not in json.dumps(response.body, ensure_ascii=False)


def test_a_null_status_is_rejected_as_the_contract_says_an_absent_one_keeps_the_status(sync, table):
    receipt = put_receipt(table, status="returned")
    item = {"receiptId": receipt["receiptId"], "serverVersion": 1}

    null, absent = push(sync, [{**item, "status": None}, {**item, "notes": "kept returned"}]).body["results"]

    assert null["outcome"] == "rejected" and null["error"]["error"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in null["error"]["details"]] == ["status"]
    assert absent["outcome"] == "accepted" and absent["item"]["status"] == "returned"
    assert stored(table, "user-a", receipt["receiptId"])["status"] == "returned"


def test_a_null_inside_a_line_item_is_rejected_as_in_a_rest_body(sync):
    line = {"description": "Milk", "unitPrice": "1.09"}
    receipt_id = str(uuid.uuid4())

    null, left_out = push(
        sync,
        [
            {"receiptId": receipt_id, "items": [{**line, "totalPrice": None}]},
            {"receiptId": receipt_id, "items": [line]},
        ],
    ).body["results"]

    assert null["outcome"] == "rejected" and [d["field"] for d in null["error"]["details"]] == ["items"]
    assert left_out["outcome"] == "accepted" and left_out["item"]["items"] == [{**line, "quantity": 1}]


@pytest.mark.parametrize("items", [[], [{"receiptId": "0b7e7f5a-93b5-4a4c-9c43-0ac2c2d0d0a1"}] * 26, "not a list"])
def test_an_empty_oversized_or_malformed_batch_is_400(sync, items):
    assert_error_shape(push(sync, items), 400, "VALIDATION_ERROR")


def test_a_push_of_25_makes_one_batch_get_and_at_most_25_writes(sync, table, calls):
    existing = [put_receipt(table) for _ in range(10)]
    calls.reset()
    items = [{"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "edited"} for receipt in existing]
    items += [{"receiptId": str(uuid.uuid4()), "storeName": f"new {i}"} for i in range(15)]

    results = push(sync, items).body["results"]

    assert [result["outcome"] for result in results] == ["accepted"] * 25
    assert calls.counts == {"BatchGetItem": 1, "UpdateItem": 10, "PutItem": 15}


def test_replaying_a_push_writes_nothing_more(sync, table, calls):
    receipt = put_receipt(table)
    change = [{"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "once"}]
    first = push(sync, change).body["results"][0]
    calls.reset()

    second = push(sync, change).body["results"][0]

    assert second["serverVersion"] == first["serverVersion"] == 2
    assert second["item"] == first["item"]
    assert calls.counts == {"BatchGetItem": 1}


def test_a_write_racing_the_push_is_merged_again_never_overwritten(sync, table):
    receipt = put_receipt(table, notes="original")
    store = sync.module.sync.store
    real_replace = store.replace_content
    raced = []

    def another_device_writes_first(user_id, server, content, moment, **kwargs):
        if not raced:
            raced.append(True)
            table.update_item(
                Key={"PK": receipt["PK"], "SK": receipt["SK"]},
                UpdateExpression="SET serverVersion = :v, category = :c",
                ExpressionAttributeValues={":v": 2, ":c": "Groceries"},
            )
        return real_replace(user_id, server, content, moment, **kwargs)

    store.replace_content = another_device_writes_first

    [result] = push(sync, [{"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "mine"}]).body["results"]

    assert result["outcome"] == "accepted" and result["serverVersion"] == 3  # every change it sent applied
    assert result["item"]["notes"] == "mine" and result["item"]["category"] == "Groceries"


def test_the_warranty_index_follows_a_merged_status_change(sync, table):
    receipt = put_receipt(table, purchaseDate=(NOW.date() - dt.timedelta(days=10)).isoformat(), warrantyMonths=24)

    def in_warranty_index() -> bool:
        entries = table.query(
            IndexName="ByWarrantyExpiry", KeyConditionExpression=Key("warrantyPK").eq("USER#user-a#ACTIVE")
        )["Items"]
        return any(entry["receiptId"] == receipt["receiptId"] for entry in entries)

    assert in_warranty_index()
    push(sync, [{"receiptId": receipt["receiptId"], "serverVersion": 1, "status": "returned"}])
    assert not in_warranty_index()
    push(sync, [{"receiptId": receipt["receiptId"], "serverVersion": 2, "status": "active"}])
    assert in_warranty_index()


def test_a_deletion_made_offline_is_a_soft_delete(sync, table):
    receipt = put_receipt(table)

    [result] = push(sync, [{"receiptId": receipt["receiptId"], "serverVersion": 1, "status": "deleted"}]).body[
        "results"
    ]

    item = stored(table, "user-a", receipt["receiptId"])
    assert result["outcome"] == "accepted" and item["status"] == "deleted"
    assert item["ttl"] > NOW.timestamp() + 29 * 86400 and item["previousStatus"] == "active"
    assert pull(sync).body["deleted"] == [receipt["receiptId"]]


def test_editing_a_receipt_deleted_on_the_server_is_a_conflict(sync, table):
    receipt = put_receipt(table, status="deleted")

    [result] = push(sync, [{"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "x"}]).body["results"]

    assert result["outcome"] == "conflict" and result["item"]["status"] == "deleted"
    assert result["error"]["error"] == "VERSION_CONFLICT"


def test_a_push_never_touches_another_users_receipt(sync, table):
    theirs = put_receipt(table, user="user-b", notes="theirs")

    [edit] = push(sync, [{"receiptId": theirs["receiptId"], "serverVersion": 1, "notes": "mine"}]).body["results"]
    [create] = push(sync, [{"receiptId": theirs["receiptId"], "notes": "mine"}]).body["results"]

    assert stored(table, "user-b", theirs["receiptId"])["notes"] == "theirs"
    assert edit["outcome"] == "gone" and "item" not in edit  # nothing of theirs comes back
    assert create["outcome"] == "accepted" and stored(table, "user-a", theirs["receiptId"])["notes"] == "mine"


def test_push_metrics_count_conflicts(sync, table, capsys):
    receipt = put_receipt(table, storeName="Lidl")
    table.update_item(
        Key={"PK": receipt["PK"], "SK": receipt["SK"]},
        UpdateExpression="SET serverVersion = :v",
        ExpressionAttributeValues={":v": 2},
    )

    push(sync, [{"receiptId": receipt["receiptId"], "serverVersion": 1, "storeName": "LIDL OCR"}])

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"ConflictCount"' in line]
    assert blobs and blobs[0]["ConflictCount"] == [1.0] and blobs[0]["Operation"] == "push"
    assert "SyncDuration" in blobs[0] and blobs[0]["SyncItemCount"] == [1.0]


# -- full ------------------------------------------------------------------------------------


def test_full_reconciliation_returns_every_receipt_paginated(sync, table):
    ids = {put_receipt(table)["receiptId"] for _ in range(4)} | {put_receipt(table, status="deleted")["receiptId"]}
    put_receipt(table, user="user-b")
    seen, cursor = [], None
    while True:
        body = sync.call("POST", "/sync/full", body={"limit": 2, **({"cursor": cursor} if cursor else {})}).body
        seen += [item["receiptId"] for item in body["items"]]
        cursor = body.get("nextCursor")
        if not cursor:
            break

    assert sorted(seen) == sorted(ids)
