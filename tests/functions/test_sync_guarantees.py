"""No edit lost under real mobile failures: each case the issue reproduced against `make dev`.

Devices push through sync-handler and a REST client writes through receipt-crud, against the
same moto table. Every test is a story of lost responses, stale devices or hostile sizes.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from receipt_vault.clock import utc_now
from receipt_vault.receipts.rules import MAX_RECORDED_MUTATIONS
from tests.conftest import ApiClient, DynamoCalls, assert_error_shape, load_function

RECEIPT = "/receipts/{receiptId}"


@pytest.fixture
def sync(api_env, monkeypatch) -> ApiClient:
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    return ApiClient(load_function("sync_handler"))


@pytest.fixture
def crud(api_env) -> ApiClient:
    return ApiClient(load_function("receipt_crud"))


def push(sync: ApiClient, *items: dict[str, Any], user: str = "user-a") -> list[dict[str, Any]]:
    response = sync.call("POST", "/sync/push", body={"items": list(items)}, user=user)
    assert response.status == 200, response.body
    return response.body["results"]


def push_one(sync: ApiClient, item: dict[str, Any], user: str = "user-a") -> dict[str, Any]:
    return push(sync, item, user=user)[0]


def mutation() -> str:
    return str(uuid.uuid4())


def get(crud: ApiClient, receipt_id: str, user: str = "user-a") -> dict[str, Any]:
    response = crud.call("GET", RECEIPT, path_parameters={"receiptId": receipt_id}, user=user)
    assert response.status == 200, response.body
    return response.body


def put(crud: ApiClient, receipt_id: str, body: dict[str, Any]):
    return crud.call("PUT", RECEIPT, path_parameters={"receiptId": receipt_id}, body=body)


def stored(table, receipt_id: str, user: str = "user-a") -> dict[str, Any]:
    return table.get_item(Key={"PK": f"USER#{user}", "SK": f"RECEIPT#{receipt_id}"})["Item"]


def a_synced_receipt(sync: ApiClient, **fields: Any) -> dict[str, Any]:
    receipt_id = str(uuid.uuid4())
    result = push_one(sync, {"receiptId": receipt_id, "storeName": "Lidl", "totalAmount": "9.99", **fields})
    assert result["outcome"] == "accepted", result
    return result["item"]


# -- 1. a retried push never overwrites a later edit ---------------------------------------------


def test_a_retried_push_whose_response_was_lost_never_overwrites_a_later_edit(sync):
    receipt = a_synced_receipt(sync)
    from_a = {"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "A", "mutationId": mutation()}
    first = push_one(sync, from_a)  # applied, v2; the response never reaches device A
    from_b = push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 2, "notes": "B"})

    retried = push_one(sync, from_a)

    assert (first["serverVersion"], from_b["serverVersion"]) == (2, 3)
    assert retried["outcome"] == "duplicate" and retried["serverVersion"] == 3
    assert retried["item"]["notes"] == "B"


def test_a_retried_user_edit_of_an_extractable_field_is_a_duplicate_too(sync):
    receipt = a_synced_receipt(sync)
    edit = {"storeName": "Lidl Athens", "userEditedFields": ["storeName"]}
    from_a = {"receiptId": receipt["receiptId"], "serverVersion": 1, **edit, "mutationId": mutation()}
    push_one(sync, from_a)
    push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 2, **edit, "storeName": "Lidl Piraeus"})

    retried = push_one(sync, from_a)

    assert retried["outcome"] == "duplicate" and retried["item"]["storeName"] == "Lidl Piraeus"


def test_a_retried_offline_create_never_undoes_an_edit_made_after_it(sync):
    receipt_id, created_offline = str(uuid.uuid4()), mutation()
    create = {"receiptId": receipt_id, "storeName": "Kiosk", "notes": "first", "mutationId": created_offline}
    push_one(sync, create)
    push_one(sync, {"receiptId": receipt_id, "serverVersion": 1, "notes": "edited on B"})

    retried = push_one(sync, create)

    assert retried["outcome"] == "duplicate" and retried["item"]["notes"] == "edited on B"
    assert retried["serverVersion"] == 2


def test_a_rest_update_between_a_push_and_its_retry_is_kept(sync, crud):
    receipt = a_synced_receipt(sync)
    from_a = {"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "A", "mutationId": mutation()}
    push_one(sync, from_a)
    current = get(crud, receipt["receiptId"])
    assert put(crud, receipt["receiptId"], {**current, "notes": "typed on the web"}).status == 200

    retried = push_one(sync, from_a)

    assert retried["outcome"] == "duplicate" and retried["item"]["notes"] == "typed on the web"


def test_a_retried_push_that_changed_nothing_is_still_known_as_applied(sync, table):
    receipt = a_synced_receipt(sync, notes="same")
    from_a = {"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "same", "mutationId": mutation()}
    first = push_one(sync, from_a)  # changes nothing: no new version, but the id is recorded
    push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "B"})

    retried = push_one(sync, from_a)

    assert first["serverVersion"] == 1 and stored(table, receipt["receiptId"])["serverVersion"] == 2
    assert retried["outcome"] == "duplicate" and retried["item"]["notes"] == "B"


def test_without_a_mutation_id_a_retry_is_applied_again_as_documented(sync):
    receipt = a_synced_receipt(sync)
    from_a = {"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "A"}
    push_one(sync, from_a)
    push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 2, "notes": "B"})

    retried = push_one(sync, from_a)

    assert retried["outcome"] == "accepted" and retried["item"]["notes"] == "A"  # a user-owned field: last push wins


def test_the_record_of_applied_pushes_is_bounded_and_lives_on_the_receipt(sync, table):
    receipt = a_synced_receipt(sync)
    for index in range(MAX_RECORDED_MUTATIONS + 8):
        version = index + 1
        push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": version, "notes": str(index),
                        "mutationId": f"m-{index}"})  # fmt: skip

    item = stored(table, receipt["receiptId"])
    partition = table.query(KeyConditionExpression=Key("PK").eq("USER#user-a"))["Items"]

    assert item["mutations"] == [f"m-{i}" for i in range(8, MAX_RECORDED_MUTATIONS + 8)]
    assert [entry["SK"] for entry in partition if entry["SK"].startswith("RECEIPT#")] == [item["SK"]]
    assert "mutations" not in get_via_pull(sync)[0]  # bookkeeping, never part of the representation


def get_via_pull(sync: ApiClient) -> list[dict[str, Any]]:
    return sync.call("POST", "/sync/pull", body={}).body["items"]


def test_a_mutation_id_costs_no_extra_read(sync, table):
    receipts = [a_synced_receipt(sync) for _ in range(3)]
    calls = DynamoCalls(sync.module.sync.store.table.client)
    items = [
        {"receiptId": r["receiptId"], "serverVersion": 1, "notes": "x", "mutationId": mutation()} for r in receipts
    ]

    push(sync, *items)

    assert calls.counts == {"BatchGetItem": 1, "UpdateItem": 3}


@pytest.mark.parametrize("mutation_id", ["", "x" * 65, "with space", "é"])
def test_a_malformed_mutation_id_rejects_that_item_only(sync, mutation_id):
    receipt = a_synced_receipt(sync)
    bad = {"receiptId": str(uuid.uuid4()), "mutationId": mutation_id}
    good = {"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "ok", "mutationId": "a" * 64}

    rejected, accepted = push(sync, bad, good)

    assert rejected["outcome"] == "rejected" and rejected["error"]["error"] == "VALIDATION_ERROR"
    assert accepted["outcome"] == "accepted"


# -- 2. instants are compared as instants --------------------------------------------------------


@pytest.mark.parametrize(
    "precision",
    ["{s}Z", "{s}.1Z", "{s}.17Z", "{s}.171Z", "{s}.1719999Z", "{local}.171+02:00", "{s}.171z"],
)
def test_a_last_sync_of_any_precision_or_zone_never_skips_a_later_change(sync, table, precision):
    second = (utc_now() - dt.timedelta(hours=1)).replace(microsecond=0)
    receipt = a_synced_receipt(sync)
    changed_at = f"{second:%Y-%m-%dT%H:%M:%S}.172Z"
    table.update_item(
        Key={"PK": "USER#user-a", "SK": f"RECEIPT#{receipt['receiptId']}"},
        UpdateExpression="SET updatedAt = :t, byUpdatedSK = :k",
        ExpressionAttributeValues={":t": changed_at, ":k": f"{changed_at}#{receipt['receiptId']}"},
    )
    in_athens = second.astimezone(dt.timezone(dt.timedelta(hours=2)))
    since = precision.format(s=f"{second:%Y-%m-%dT%H:%M:%S}", local=f"{in_athens:%Y-%m-%dT%H:%M:%S}")

    response = sync.call("POST", "/sync/pull", body={"lastSyncTimestamp": since})

    assert response.status == 200, response.body
    assert [item["receiptId"] for item in response.body["items"]] == [receipt["receiptId"]]


@pytest.mark.parametrize("since", ["2026-03-01T10:15:14", "2026-03-01 10:15:14Z", "yesterday", "2026-02-30T10:00:00Z"])
def test_a_last_sync_that_names_no_instant_is_400(sync, since):
    assert_error_shape(sync.call("POST", "/sync/pull", body={"lastSyncTimestamp": since}), 400, "VALIDATION_ERROR")


def test_the_tombstone_horizon_is_compared_as_an_instant_whatever_the_zone(sync):
    just_past = utc_now() - dt.timedelta(days=30, minutes=5)
    within = utc_now() - dt.timedelta(days=29, hours=23)
    in_auckland = dt.timezone(dt.timedelta(hours=13))

    def required(moment: dt.datetime) -> bool:
        since = moment.astimezone(in_auckland).isoformat(timespec="seconds")
        return sync.call("POST", "/sync/pull", body={"lastSyncTimestamp": since}).body["fullSyncRequired"]

    assert required(just_past) is True
    assert required(within) is False


# -- 3. a removal is an edit ---------------------------------------------------------------------


def test_a_stale_device_never_brings_back_a_field_the_user_removed(sync):
    receipt = a_synced_receipt(sync)
    removal = {
        "receiptId": receipt["receiptId"],
        "serverVersion": 1,
        "storeName": None,
        "userEditedFields": ["storeName"],
    }
    push_one(sync, removal)

    stale = push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, "storeName": "LIDL (OCR)"})

    assert stale["outcome"] == "merged"
    assert "storeName" not in stale["item"] and stale["item"]["userEditedFields"] == ["storeName"]


# -- 4. a write that changes nothing bumps nothing -----------------------------------------------


def test_pushes_that_change_nothing_leave_the_version_alone(sync, table):
    receipt = a_synced_receipt(
        sync, tags=["b", "a"], items=[{"description": "Milk", "quantity": 2, "unitPrice": "1.00"}]
    )
    updated_at = stored(table, receipt["receiptId"])["updatedAt"]
    same = [
        {"tags": ["a", "b"]},
        {"tags": ["b", "a", "a"]},
        {"items": [{"description": "Milk", "quantity": 2.0, "unitPrice": "1.00"}]},
        {"storeName": "Lidl", "userEditedFields": []},
        {"notes": None},
    ]
    for change in same:
        result = push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, **change})
        assert result["outcome"] == "accepted" and result["serverVersion"] == 1, change

    assert stored(table, receipt["receiptId"])["updatedAt"] == updated_at


def test_a_put_or_patch_that_changes_nothing_bumps_nothing(crud, table):
    created = crud.call("POST", "/receipts", body={"storeName": "IKEA", "tags": ["home", "desk"]}).body
    receipt_id = created["receiptId"]

    unchanged = put(crud, receipt_id, {**created, "tags": ["desk", "home"]})
    same_status = crud.call(
        "PATCH",
        f"{RECEIPT}/status",
        path_parameters={"receiptId": receipt_id},
        body={"status": "active", "serverVersion": 1},
    )

    assert unchanged.status == 200 and unchanged.body["serverVersion"] == 1
    assert same_status.status == 200 and same_status.body["serverVersion"] == 1
    assert stored(table, receipt_id)["updatedAt"] == created["updatedAt"]


def test_a_put_that_changes_something_still_bumps_once(crud):
    created = crud.call("POST", "/receipts", body={"storeName": "IKEA"}).body

    changed = put(crud, created["receiptId"], {**created, "notes": "assembly service"})
    archived = crud.call(
        "PATCH", f"{RECEIPT}/status", path_parameters={"receiptId": created["receiptId"]},
        body={"status": "archived", "serverVersion": 2},
    )  # fmt: skip

    assert changed.body["serverVersion"] == 2 and archived.body["serverVersion"] == 3


# -- 5 and the round trip: PUT takes what GET gives ----------------------------------------------


def test_line_items_written_by_a_push_round_trip_through_get_and_put(sync, crud):
    receipt = a_synced_receipt(sync, items=[{"description": "Bread", "quantity": 1}])
    fetched = get(crud, receipt["receiptId"])

    back = put(crud, receipt["receiptId"], fetched)

    assert fetched["items"] == [{"description": "Bread", "quantity": 1}]  # no nulls
    assert back.status == 200, back.body
    assert back.body["serverVersion"] == 1


def test_get_edit_put_back_with_every_server_owned_field_works(crud, table):
    created = crud.call("POST", "/receipts", body={"storeName": "IKEA", "purchaseDate": "2026-01-05"}).body
    table.update_item(  # a thumbnail and a refinement, as their functions leave them
        Key={"PK": "USER#user-a", "SK": f"RECEIPT#{created['receiptId']}"},
        UpdateExpression="SET imageKeys = :i, refinement = :r",
        ExpressionAttributeValues={
            ":i": ["users/user-a/x.jpg"],
            ":r": {"model": "haiku", "confidence": Decimal("0.87")},
        },
    )
    fetched = get(crud, created["receiptId"])

    edited = put(crud, created["receiptId"], {**fetched, "notes": "kept"})

    assert edited.status == 200, edited.body
    assert edited.body["notes"] == "kept" and edited.body["imageKeys"] == ["users/user-a/x.jpg"]


def test_a_put_whose_receipt_id_is_another_than_the_path_is_400(crud):
    created = crud.call("POST", "/receipts", body={"storeName": "IKEA"}).body

    response = put(crud, created["receiptId"], {**created, "receiptId": str(uuid.uuid4())})

    assert_error_shape(response, 400, "VALIDATION_ERROR")


def test_a_put_that_alters_a_server_owned_field_is_400_and_changes_nothing(crud, table):
    created = crud.call("POST", "/receipts", body={"storeName": "IKEA"}).body

    response = put(crud, created["receiptId"], {**created, "imageKeys": ["users/user-b/theirs.jpg"], "notes": "x"})

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert response.body["details"] == [{"field": "imageKeys", "message": "differs from the stored value"}]
    assert "notes" not in stored(table, created["receiptId"])


def test_a_stale_put_of_a_get_representation_is_still_a_409(crud):
    created = crud.call("POST", "/receipts", body={"storeName": "IKEA"}).body
    put(crud, created["receiptId"], {**created, "notes": "first"})

    response = put(crud, created["receiptId"], {**created, "notes": "second"})

    assert_error_shape(response, 409, "VERSION_CONFLICT")


# -- 6, 7. no resurrection; a retried delete is accepted -----------------------------------------


def test_a_device_offline_past_the_tombstone_window_never_resurrects_a_receipt(sync, table):
    receipt_id = str(uuid.uuid4())  # deleted long ago: its tombstone has expired

    result = push_one(sync, {"receiptId": receipt_id, "serverVersion": 1, "notes": "edited offline"})

    assert result["outcome"] == "gone" and result["error"]["error"] == "GONE"
    assert "Item" not in table.get_item(Key={"PK": "USER#user-a", "SK": f"RECEIPT#{receipt_id}"})


def test_retrying_an_accepted_delete_is_accepted_and_changes_nothing(sync, table):
    receipt = a_synced_receipt(sync)
    delete = {
        "receiptId": receipt["receiptId"],
        "serverVersion": 1,
        "status": "deleted",
        "userEditedFields": ["status"],
    }

    first, retried = push_one(sync, delete), push_one(sync, delete)

    assert (first["outcome"], retried["outcome"]) == ("accepted", "accepted")
    assert first["serverVersion"] == retried["serverVersion"] == stored(table, receipt["receiptId"])["serverVersion"]


# -- 8. derived fields follow their inputs -------------------------------------------------------


def test_a_derived_expiry_goes_with_its_inputs_on_every_write_path(sync, crud, table):
    bought = (utc_now().date() - dt.timedelta(days=10)).isoformat()
    receipt = a_synced_receipt(sync, purchaseDate=bought, warrantyMonths=24)
    assert receipt["warrantyExpiryDate"]

    by_push = push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, "warrantyMonths": None})
    restored = push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 2, "warrantyMonths": 12})
    fetched = get(crud, receipt["receiptId"])
    by_put = put(crud, receipt["receiptId"], {**fetched, "purchaseDate": None})

    assert "warrantyExpiryDate" not in by_push["item"]
    assert restored["item"]["warrantyExpiryDate"] > bought
    assert by_put.status == 200 and "warrantyExpiryDate" not in by_put.body
    assert "warrantyPK" not in stored(table, receipt["receiptId"])  # and it left the warranty index


def test_a_user_set_expiry_stands_without_inputs(sync):
    mine = {"warrantyExpiryDate": "2031-05-05", "userEditedFields": ["warrantyExpiryDate"]}
    receipt = a_synced_receipt(sync, **mine)

    result = push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, "purchaseDate": None})

    assert result["item"]["warrantyExpiryDate"] == "2031-05-05"


# -- 9. bounded, strict, per item ----------------------------------------------------------------

LONG_NAMES = {"latin": "é" * 171, "cjk": "漢" * 110, "emoji": "🧾" * 200, "mixed": ("Ω#%" * 66)[:200]}


@pytest.mark.parametrize("name", sorted(LONG_NAMES))
def test_every_accepted_store_name_has_an_index_key_through_rest_and_push(crud, sync, name):
    store = LONG_NAMES[name]

    created = crud.call("POST", "/receipts", body={"storeName": store})
    pushed = push(sync, {"receiptId": str(uuid.uuid4()), "storeName": store}, {"receiptId": str(uuid.uuid4())})
    listed = crud.call("GET", "/receipts", query={"store": store})

    assert created.status == 201, created.body
    assert [result["outcome"] for result in pushed] == ["accepted", "accepted"]
    assert len(listed.body["items"]) == 2 and {item["storeName"] for item in listed.body["items"]} == {store}


def test_a_store_that_only_shares_a_long_prefix_is_another_store(crud):
    long_name = "é" * 150
    crud.call("POST", "/receipts", body={"storeName": long_name + "A"})
    crud.call("POST", "/receipts", body={"storeName": long_name + "B"})

    listed = crud.call("GET", "/receipts", query={"store": long_name + "A"})

    assert [item["storeName"] for item in listed.body["items"]] == [long_name + "A"]


def huge_receipt() -> dict[str, Any]:
    """Within every field's own limit, and 360 KB in all: more than a receipt may hold."""
    return {
        "storeName": "🧾" * 200,
        "notes": "é" * 5000,
        "ocrRawText": "x" * 20000,
        "items": [{"description": "漢" * 500, "quantity": 1, "unitPrice": "1.00"} for _ in range(200)],
    }


def test_a_receipt_over_the_size_limit_is_413_through_rest_and_rejected_alone_in_a_push(crud, sync, table):
    rest = crud.call("POST", "/receipts", body=huge_receipt())
    oversized, fine = push(sync, {"receiptId": str(uuid.uuid4()), **huge_receipt()}, {"receiptId": str(uuid.uuid4())})

    assert_error_shape(rest, 413, "PAYLOAD_TOO_LARGE")
    assert oversized["outcome"] == "rejected" and oversized["error"]["error"] == "PAYLOAD_TOO_LARGE"
    assert fine["outcome"] == "accepted"


def test_a_push_body_over_the_request_limit_is_413(sync):
    items = [{"receiptId": str(uuid.uuid4()), **huge_receipt()} for _ in range(20)]  # 7.2 MB

    response = sync.call("POST", "/sync/push", body={"items": items})

    assert_error_shape(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_pull_page_stops_at_its_byte_budget_and_the_cursor_continues_there(sync, monkeypatch):
    monkeypatch.setattr(sync.module.sync, "response_budget_bytes", 3000)
    ids = [a_synced_receipt(sync, notes="n" * 900)["receiptId"] for _ in range(7)]

    seen, cursor, pages = [], None, 0
    while True:
        body = sync.call("POST", "/sync/pull", body={"limit": 100, **({"cursor": cursor} if cursor else {})}).body
        seen += [item["receiptId"] for item in body["items"]]
        pages += 1
        cursor = body.get("nextCursor")
        if not cursor:
            break

    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)  # each exactly once
    assert pages >= 3


def test_push_results_beyond_the_byte_budget_leave_their_item_out(sync, monkeypatch):
    monkeypatch.setattr(sync.module.sync, "response_budget_bytes", 2500)
    items = [{"receiptId": str(uuid.uuid4()), "notes": "n" * 900} for _ in range(4)]

    results = push(sync, *items)

    assert [result["outcome"] for result in results] == ["accepted"] * 4
    assert ["item" in result for result in results] == [True, True, False, False]
    assert all(result["serverVersion"] == 1 for result in results)


@pytest.mark.parametrize(
    ("field", "value"),
    [("warrantyMonths", "24"), ("warrantyMonths", True), ("items", [{"description": "x", "quantity": "2"}]),
     ("tags", "warranty"), ("storeName", 42)],
)  # fmt: skip
def test_push_refuses_what_the_rest_routes_refuse(sync, field, value):
    [result] = push(sync, {"receiptId": str(uuid.uuid4()), field: value})

    assert result["outcome"] == "rejected" and result["error"]["error"] == "VALIDATION_ERROR"
    assert result["error"]["details"][0]["field"].startswith(field)


def test_a_storage_failure_for_one_item_rejects_that_item_and_the_batch_goes_on(sync, table, monkeypatch):
    first, second = a_synced_receipt(sync), a_synced_receipt(sync)
    table_access = sync.module.sync.store.table
    real_update = table_access.update_item

    def throttled_for_the_first(key, *args, **kwargs):  # DynamoDB refusing after the SDK's retries
        if key["SK"].endswith(first["receiptId"]):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem")
        return real_update(key, *args, **kwargs)

    monkeypatch.setattr(table_access, "update_item", throttled_for_the_first)

    throttled, applied = push(
        sync,
        {"receiptId": first["receiptId"], "serverVersion": 1, "notes": "x", "mutationId": mutation()},
        {"receiptId": second["receiptId"], "serverVersion": 1, "notes": "y"},
    )

    assert throttled["outcome"] == "rejected" and throttled["error"]["error"] == "RATE_LIMITED"
    assert applied["outcome"] == "accepted" and stored(table, second["receiptId"])["notes"] == "y"


def test_a_refinement_with_its_problems_round_trips_and_an_impossible_one_is_400(crud, table):
    created = crud.call("POST", "/receipts", body={"storeName": "IKEA"}).body
    refinement = {"model": "haiku", "confidence": Decimal("0.4"), "needsReview": True, "problems": ["low-confidence"]}
    table.update_item(
        Key={"PK": "USER#user-a", "SK": f"RECEIPT#{created['receiptId']}"},
        UpdateExpression="SET refinement = :r",
        ExpressionAttributeValues={":r": {**refinement, "fieldConfidence": {"total": Decimal("0.9")}}},
    )
    fetched = get(crud, created["receiptId"])
    impossible = {**fetched["refinement"], "fieldConfidence": {"total": 6.9e134}}

    kept = put(crud, created["receiptId"], {**fetched, "notes": "checked"})
    refused = put(crud, created["receiptId"], {**kept.body, "refinement": impossible})

    assert kept.status == 200, kept.body
    assert_error_shape(refused, 400, "VALIDATION_ERROR")


def test_a_field_removed_through_rest_stays_removed_whatever_a_stale_device_sends(sync, crud):
    receipt = a_synced_receipt(sync, paymentMethod="card")
    fetched = get(crud, receipt["receiptId"])
    del fetched["paymentMethod"]
    assert put(crud, receipt["receiptId"], fetched).status == 200  # GET, remove the field, PUT back

    stale = push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, "paymentMethod": "card"})

    assert stale["outcome"] == "merged" and "paymentMethod" not in stale["item"]


def test_a_field_removed_by_a_push_on_the_current_version_stays_removed_for_a_stale_device(sync):
    receipt = a_synced_receipt(sync, paymentMethod="card")
    push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, "paymentMethod": None})

    stale = push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, "paymentMethod": "cash"})

    assert stale["outcome"] == "merged" and "paymentMethod" not in stale["item"]


def test_a_stale_device_may_still_fill_a_field_that_never_had_a_value(sync):
    receipt = a_synced_receipt(sync)
    push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, "notes": "moves the version"})

    stale = push_one(sync, {"receiptId": receipt["receiptId"], "serverVersion": 1, "paymentMethod": "card"})

    assert stale["outcome"] == "accepted" and stale["item"]["paymentMethod"] == "card"


@pytest.mark.parametrize(
    ("since", "full_sync_required"),
    [("0001-01-01T00:30:00+01:00", True), ("0001-01-01T00:00:00+23:59", True), ("9999-12-31T23:59:59-23:59", False)],
    ids=["before-year-1-in-utc", "year-1-far-east", "after-9999-in-utc"],
)
def test_a_last_sync_that_leaves_the_calendar_once_in_utc_is_before_or_after_every_change(
    sync, since, full_sync_required
):
    a_synced_receipt(sync)

    response = sync.call("POST", "/sync/pull", body={"lastSyncTimestamp": since})

    # Before any tombstone the server keeps: a full sync; after every change: nothing new.
    assert response.status == 200, response.body
    assert response.body["fullSyncRequired"] is full_sync_required and response.body["items"] == []


@pytest.mark.parametrize("since", ["2026-12-01T00:00:00+00:60", "2026-12-01T00:00:00+23:60", "2026-02-30T00:00:00Z"])
def test_a_last_sync_with_an_impossible_offset_or_day_is_400_in_plain_words(sync, since):
    response = sync.call("POST", "/sync/pull", body={"lastSyncTimestamp": since})

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert "timedelta" not in json.dumps(response.body) and "RFC 3339" in json.dumps(response.body)


@pytest.mark.parametrize(
    "poison",
    ['{"notes": ' + "[" * 600 + "]" * 600 + "}", '{"notes": "\\ud800"}', '{"tags": ' + "[" * 2000 + "]" * 2000 + "}"],
    ids=["nested-600", "lone-surrogate", "nested-2000"],
)
def test_an_item_no_strict_parser_reads_is_rejected_alone(sync, poison):
    good = {"receiptId": str(uuid.uuid4()), "notes": "fine"}
    body = '{"items": [' + poison[:-1] + f', "receiptId": "{uuid.uuid4()}"}}, ' + json.dumps(good) + "]}"

    response = sync.call("POST", "/sync/push", body=body)

    if response.status == 400:  # deeper than any JSON parser goes: the whole body is unreadable
        assert poison.count("[") >= 1000 and "nested too deeply" in response.body["message"]
        return
    rejected, accepted = response.body["results"]
    assert rejected["outcome"] == "rejected" and rejected["error"]["error"] == "VALIDATION_ERROR"
    assert accepted["outcome"] == "accepted"
