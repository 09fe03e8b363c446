"""receipt-crud through its Lambda handler, against moto, with the table from template.yaml."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import uuid
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from local.cfn_template import OPENAPI_PATH, load_yaml
from receipt_vault.clock import utc_now
from receipt_vault.observability import hash_user_id
from tests.conftest import ALLOWED_ORIGIN, ApiClient, DynamoCalls, assert_error_shape, load_function

RECEIPT = "/receipts/{receiptId}"
TODAY = utc_now().date()


def a_receipt(**overrides: Any) -> dict[str, Any]:
    body = {
        "storeName": "MediaMarkt Athens",
        "purchaseDate": (TODAY - dt.timedelta(days=10)).isoformat(),
        "totalAmount": "129.99",
        "currency": "EUR",
        "taxAmount": "24.70",
        "category": "Electronics",
        "items": [{"description": "Headphones", "quantity": 1, "unitPrice": "129.99", "totalPrice": "129.99"}],
        "warrantyMonths": 24,
        "tags": ["audio"],
    }
    body.update(overrides)
    return body


@pytest.fixture
def crud(api_env) -> ApiClient:
    return ApiClient(load_function("receipt_crud"))


@pytest.fixture
def calls(crud) -> DynamoCalls:
    return DynamoCalls(crud.module.receipts.store.table.client)


def create(crud: ApiClient, user: str = "user-a", **overrides: Any) -> dict[str, Any]:
    response = crud.call("POST", "/receipts", body=a_receipt(**overrides), user=user)
    assert response.status == 201, response.body
    return response.body


def stored_items(table) -> list[dict[str, Any]]:
    """The users' items, without the anonymous daily-active-user markers."""
    return [item for item in table.scan()["Items"] if not item["PK"].startswith("ACTIVE#")]


def stored_receipts(table) -> list[dict[str, Any]]:
    """The users' receipts, without their duplicate-detection fingerprints (DUP#)."""
    return [item for item in stored_items(table) if item["SK"].startswith("RECEIPT#")]


def warranty_index(table, user: str = "user-a") -> list[dict[str, Any]]:
    """The user's entries of ByWarrantyExpiry, checked to match their EXPIRY# entries of
    ByScheduledJob, which the warranty checker reads: both indexes move together."""
    entries = table.query(
        IndexName="ByWarrantyExpiry", KeyConditionExpression=Key("warrantyPK").eq(f"USER#{user}#ACTIVE")
    )["Items"]
    scheduled = [
        item
        for item in table.scan(IndexName="ByScheduledJob")["Items"]
        if item["jobSK"].startswith(f"USER#{user}#RECEIPT#")
    ]
    assert sorted((i["receiptId"], f"EXPIRY#{i['warrantyExpiryDate']}") for i in entries) == sorted(
        (i["receiptId"], i["jobPK"]) for i in scheduled
    )
    return entries


# -- create -----------------------------------------------------------------------------------


def test_create_returns_201_with_version_1_and_derived_warranty_expiry(crud, calls):
    response = crud.call("POST", "/receipts", body=a_receipt(purchaseDate="2026-01-31", warrantyMonths=1))

    assert response.status == 201
    receipt = response.body
    assert receipt["serverVersion"] == 1
    assert receipt["status"] == "active"
    assert receipt["warrantyExpiryDate"] == "2026-02-28"  # clamped to the month's end
    assert receipt["totalAmount"] == "129.99"
    assert receipt["createdAt"].endswith("Z") and len(receipt["createdAt"]) == 24
    assert receipt["imageKeys"] == [] and receipt["thumbnailKeys"] == []
    assert "PK" not in receipt and "byDateSK" not in receipt
    assert calls.counts == {"PutItem": 1}  # duplicate-checker follows, from the stream


def test_create_with_live_warranty_enters_the_warranty_index(crud, table):
    receipt = create(crud)

    assert [item["receiptId"] for item in warranty_index(table)] == [receipt["receiptId"]]


def test_create_with_expired_warranty_has_no_warranty_index_keys(crud, table):
    create(crud, purchaseDate="2020-01-01", warrantyMonths=12)

    item = stored_receipts(table)[0]
    assert "warrantyPK" not in item and "warrantySK" not in item
    assert warranty_index(table) == []


def test_create_keeps_a_user_edited_expiry_date_over_the_derived_one(crud):
    expiry = (TODAY + dt.timedelta(days=400)).isoformat()
    receipt = create(crud, warrantyExpiryDate=expiry, userEditedFields=["warrantyExpiryDate"])

    assert receipt["warrantyExpiryDate"] == expiry


def test_repeated_create_with_the_same_id_and_body_is_idempotent(crud, table):
    receipt_id = str(uuid.uuid4())
    first = crud.call("POST", "/receipts", body=a_receipt(receiptId=receipt_id))

    second = crud.call("POST", "/receipts", body=a_receipt(receiptId=receipt_id))

    assert (first.status, second.status) == (201, 200)
    assert second.body == first.body
    assert len(stored_receipts(table)) == 1


def test_create_with_an_existing_id_but_other_content_is_409_with_the_current_item(crud, table):
    receipt_id = str(uuid.uuid4())
    crud.call("POST", "/receipts", body=a_receipt(receiptId=receipt_id))

    response = crud.call("POST", "/receipts", body=a_receipt(receiptId=receipt_id, totalAmount="1.00"))

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"]["totalAmount"] == "129.99"
    assert stored_receipts(table)[0]["totalAmount"] == "129.99"


def test_the_same_client_id_for_two_users_makes_two_receipts(crud, table):
    receipt_id = str(uuid.uuid4())
    crud.call("POST", "/receipts", body=a_receipt(receiptId=receipt_id), user="user-a")

    response = crud.call("POST", "/receipts", body=a_receipt(receiptId=receipt_id), user="user-b")

    assert response.status == 201
    assert len(stored_receipts(table)) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"totalAmount": 12.5}, "totalAmount"),  # money is never a float
        ({"totalAmount": "12,50"}, "totalAmount"),
        ({"currency": "euro"}, "currency"),
        ({"purchaseDate": "2026-02-30"}, "purchaseDate"),
        ({"serverVersion": 7}, "serverVersion"),  # server-owned
        ({"imageKeys": ["users/x/receipts/y/original/z.jpg"]}, "imageKeys"),
        ({"items": [{"description": "x"}] * 201}, "items"),
        ({"ocrRawText": "€" * 7000}, "ocrRawText"),  # 21,000 bytes of UTF-8
        ({"warrantyMonths": -1}, "warrantyMonths"),
        ({"userEditedFields": ["serverVersion"]}, "userEditedFields.0"),
        ({"receiptId": "not-a-uuid"}, "receiptId"),
    ],
)
def test_create_with_invalid_data_is_400_and_writes_nothing(crud, table, body, field):
    response = crud.call("POST", "/receipts", body=a_receipt(**body))

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert any(detail["field"].startswith(field) for detail in response.body["details"]), response.body
    assert stored_items(table) == []


@pytest.mark.parametrize("raw_body", ["{not json", "", "[1, 2]"])
def test_create_with_a_malformed_body_is_400(crud, table, raw_body):
    response = crud.call("POST", "/receipts", body=raw_body)

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert stored_items(table) == []


def test_an_id_token_cannot_call_the_api(crud, table):
    response = crud.call("POST", "/receipts", body=a_receipt(), token_use="id")

    assert_error_shape(response, 401, "UNAUTHORIZED")
    assert stored_items(table) == []


# -- get --------------------------------------------------------------------------------------


def test_get_returns_the_receipt_with_one_get_item(crud, calls):
    receipt = create(crud)
    calls.reset()

    response = crud.call("GET", RECEIPT, path_parameters={"receiptId": receipt["receiptId"]})

    assert response.status == 200
    assert response.body == receipt
    assert calls.counts == {"GetItem": 1}


def test_get_of_another_users_receipt_is_404(crud):
    receipt = create(crud, user="user-a")

    response = crud.call("GET", RECEIPT, path_parameters={"receiptId": receipt["receiptId"]}, user="user-b")

    assert_error_shape(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("receipt_id", ["0b7e7f5a-93b5-4a4c-9c43-0ac2c2d0d0a1", "not-a-uuid"])
def test_get_of_an_unknown_receipt_is_404(crud, receipt_id):
    response = crud.call("GET", RECEIPT, path_parameters={"receiptId": receipt_id})

    assert_error_shape(response, 404, "NOT_FOUND")


def test_get_finds_a_receipt_whatever_the_case_of_its_id(crud):
    receipt = create(crud)

    response = crud.call("GET", RECEIPT, path_parameters={"receiptId": receipt["receiptId"].upper()})

    assert response.status == 200


# -- list -------------------------------------------------------------------------------------


def list_all(crud: ApiClient, user: str = "user-a", **query: str) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        params = {**query, **({"nextToken": token} if token else {})}
        response = crud.call("GET", "/receipts", query=params or None, user=user)
        assert response.status == 200, response.body
        items += response.body["items"]
        token = response.body.get("nextToken")
        if not token:
            return items


def test_list_is_newest_purchase_first_and_excludes_deleted(crud):
    old = create(crud, purchaseDate="2025-01-01")
    new = create(crud, purchaseDate="2026-03-01")
    gone = create(crud, purchaseDate="2026-02-01")
    crud.call("DELETE", RECEIPT, path_parameters={"receiptId": gone["receiptId"]})

    ids = [item["receiptId"] for item in list_all(crud)]

    assert ids == [new["receiptId"], old["receiptId"]]


def test_list_pages_through_every_receipt_exactly_once(crud):
    created = {create(crud, purchaseDate=f"2026-01-{day:02d}")["receiptId"] for day in range(1, 8)}

    listed = [item["receiptId"] for item in list_all(crud, limit="3")]

    assert len(listed) == len(created) == 7
    assert set(listed) == created


def test_list_makes_one_query_per_page(crud, calls):
    for day in range(1, 4):
        create(crud, purchaseDate=f"2026-01-{day:02d}")
    calls.reset()

    crud.call("GET", "/receipts", query={"limit": "2"})

    assert calls.counts == {"Query": 1}


def test_list_never_shows_another_users_receipts(crud):
    create(crud, user="user-a")

    assert list_all(crud, user="user-b") == []


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({}, "ByUserDate"),
        ({"from": "2026-01-01", "to": "2026-01-31"}, "ByUserDate"),
        ({"category": "electronics"}, "ByUserCategory"),
        ({"store": "mediamarkt  athens"}, "ByUserStore"),
        ({"status": "returned"}, "ByUserStatus"),
        ({"status": "deleted", "category": "Electronics"}, "ByUserStatus"),
    ],
)
def test_each_filter_is_served_by_its_index_never_a_scan(crud, calls, query, index):
    crud.call("GET", "/receipts", query=query or None)

    assert calls.counts == {"Query": 1}
    assert calls.requests[0][1]["IndexName"] == index


def test_filters_select_the_right_receipts(crud):
    jan = create(crud, purchaseDate="2026-01-15", category="Groceries", storeName="Lidl")
    feb = create(crud, purchaseDate="2026-02-15", category="Electronics", storeName="Media Markt")
    returned = create(crud, purchaseDate="2026-02-20", category="Electronics", storeName="Lidl")
    crud.call(
        "PATCH",
        f"{RECEIPT}/status",
        path_parameters={"receiptId": returned["receiptId"]},
        body={"status": "returned", "serverVersion": 1},
    )

    def ids(**query: str) -> set[str]:
        return {item["receiptId"] for item in list_all(crud, **query)}

    assert ids(**{"from": "2026-02-01", "to": "2026-02-28"}) == {feb["receiptId"], returned["receiptId"]}
    assert ids(category="ELECTRONICS") == {feb["receiptId"], returned["receiptId"]}
    assert ids(store="lidl") == {jan["receiptId"], returned["receiptId"]}
    assert ids(status="returned") == {returned["receiptId"]}
    assert ids(status="returned", store="Media Markt") == set()
    assert ids(category="Electronics", store="Lidl") == {returned["receiptId"]}


def test_a_category_containing_a_hash_does_not_match_its_prefix(crud):
    create(crud, category="Home#Garden")
    create(crud, category="Home")

    assert [item["category"] for item in list_all(crud, category="Home")] == ["Home"]


def test_an_undated_receipt_lists_first_and_outside_date_ranges(crud):
    dated = create(crud, purchaseDate="2026-01-01")
    body = a_receipt()
    del body["purchaseDate"]
    undated = crud.call("POST", "/receipts", body=body).body

    assert [item["receiptId"] for item in list_all(crud)] == [undated["receiptId"], dated["receiptId"]]
    assert [item["receiptId"] for item in list_all(crud, **{"from": "2025-01-01"})] == [dated["receiptId"]]


@pytest.mark.parametrize("token", ["garbage", "abc.def", "x" * 3000])
def test_a_tampered_page_token_is_400(crud, token):
    response = crud.call("GET", "/receipts", query={"nextToken": token})

    assert_error_shape(response, 400, "VALIDATION_ERROR")


def test_a_page_token_is_bound_to_its_user_and_filters(crud):
    for day in range(1, 4):
        create(crud, purchaseDate=f"2026-01-{day:02d}")
    token = crud.call("GET", "/receipts", query={"limit": "1"}).body["nextToken"]

    foreign = crud.call("GET", "/receipts", query={"limit": "1", "nextToken": token}, user="user-b")
    other_filters = crud.call("GET", "/receipts", query={"limit": "1", "category": "x", "nextToken": token})
    edited = crud.call("GET", "/receipts", query={"limit": "1", "nextToken": "A" + token[1:]})

    assert_error_shape(foreign, 400, "VALIDATION_ERROR")
    assert_error_shape(other_filters, 400, "VALIDATION_ERROR")
    assert_error_shape(edited, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"from": "2026-13-01"},
        {"status": "lost"},
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"sort": "asc"},
        {"from": "0000-00-00"},
        {"to": "2023-02-29"},
        # A filter's length as sent, as the contract counts it (the function trims it after).
        {"category": "\u00a0" + "0" * 50},
        {"store": " " * 201},
        {"category": "\u3000"},
    ],
)
def test_invalid_list_parameters_are_400(crud, query):
    assert_error_shape(crud.call("GET", "/receipts", query=query), 400, "VALIDATION_ERROR")


# The contract's calendar of purchase dates, at its edges: 1900 to 2199, February 29 in leap years.
PURCHASE_DATES = {
    "1900-01-01": True,
    "2199-12-31": True,
    "2000-02-29": True,
    "2024-02-29": True,
    "1899-12-31": False,
    "2200-01-01": False,
    "1900-02-29": False,
    "2100-02-29": False,
    "2023-02-29": False,
    "2024-04-31": False,
    "2024-00-10": False,
    "0000-00-00": False,
}


@pytest.mark.parametrize(("date", "valid"), sorted(PURCHASE_DATES.items()))
def test_a_purchase_date_is_a_day_of_the_contracts_calendar(crud, table, date, valid):
    schema = load_yaml(OPENAPI_PATH)["components"]["schemas"]["PurchaseDate"]

    created = crud.call("POST", "/receipts", body=a_receipt(purchaseDate=date, warrantyMonths=0))
    listed = crud.call("GET", "/receipts", query={"from": date, "to": date})

    assert bool(re.fullmatch(schema["pattern"], date)) is valid  # what API Gateway's model says
    if valid:
        assert created.status == 201 and created.body["purchaseDate"] == date
        assert [item["purchaseDate"] for item in listed.body["items"]] == [date]
    else:
        assert_error_shape(created, 400, "VALIDATION_ERROR")
        assert_error_shape(listed, 400, "VALIDATION_ERROR")
        assert stored_items(table) == []


def test_the_latest_derived_warranty_end_is_in_the_contract_and_comes_back_in_a_put(crud):
    receipt = create(crud, purchaseDate="2199-12-31", warrantyMonths=600)
    pattern = load_yaml(OPENAPI_PATH)["components"]["schemas"]["WarrantyExpiryDate"]["pattern"]

    response = update(crud, receipt["receiptId"], **{**receipt, "notes": "as GET returned it"})

    assert receipt["warrantyExpiryDate"] == "2249-12-31" and re.fullmatch(pattern, "2249-12-31")
    assert response.status == 200, response.body
    assert response.body["warrantyExpiryDate"] == "2249-12-31" and response.body["serverVersion"] == 2


# -- full update ------------------------------------------------------------------------------


def update(crud: ApiClient, receipt_id: str, user: str = "user-a", **body: Any):
    return crud.call("PUT", RECEIPT, path_parameters={"receiptId": receipt_id}, body=body, user=user)


def test_update_replaces_the_content_and_bumps_the_version_with_one_update_item(crud, calls, table):
    receipt = create(crud)
    calls.reset()

    response = update(
        crud,
        receipt["receiptId"],
        serverVersion=1,
        storeName="Kotsovolos",
        purchaseDate=receipt["purchaseDate"],
        totalAmount="99.00",
        currency="EUR",
    )

    assert response.status == 200, response.body
    assert response.body["serverVersion"] == 2
    assert response.body["storeName"] == "Kotsovolos"
    assert "category" not in response.body and "warrantyMonths" not in response.body  # full update
    assert response.body["createdAt"] == receipt["createdAt"]
    assert response.body["updatedAt"] >= receipt["updatedAt"]
    assert calls.counts == {"UpdateItem": 1}
    item = stored_receipts(table)[0]
    assert "byCategorySK" not in item and "warrantyPK" not in item and "warrantyExpiryKey" not in item


def test_update_with_a_stale_version_is_409_with_the_current_item_and_changes_nothing(crud, table):
    receipt = create(crud)
    assert update(crud, receipt["receiptId"], **{**a_receipt(notes="first"), "serverVersion": 1}).status == 200

    response = update(crud, receipt["receiptId"], **{**a_receipt(notes="stale"), "serverVersion": 1})

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"]["serverVersion"] == 2
    assert response.body["current"]["notes"] == "first"
    assert stored_receipts(table)[0]["notes"] == "first"


def test_update_of_another_users_receipt_is_404_and_changes_nothing(crud, table):
    receipt = create(crud, user="user-a")

    response = update(crud, receipt["receiptId"], user="user-b", **{**a_receipt(), "serverVersion": 1})

    assert_error_shape(response, 404, "NOT_FOUND")
    assert stored_receipts(table)[0]["serverVersion"] == 1
    assert len(stored_receipts(table)) == 1  # no item was created for user-b


def test_update_with_invalid_data_is_400_and_changes_nothing(crud, table):
    receipt = create(crud)

    response = update(crud, receipt["receiptId"], serverVersion=1, totalAmount="lots")

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert stored_receipts(table)[0]["totalAmount"] == "129.99"


def test_update_without_server_version_is_400(crud):
    receipt = create(crud)

    assert_error_shape(update(crud, receipt["receiptId"], storeName="x"), 400, "VALIDATION_ERROR")


def test_update_of_a_deleted_receipt_is_409(crud):
    receipt = create(crud)
    crud.call("DELETE", RECEIPT, path_parameters={"receiptId": receipt["receiptId"]})

    response = update(crud, receipt["receiptId"], **{**a_receipt(), "serverVersion": 2})

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"]["status"] == "deleted"


def test_update_of_a_returned_receipt_keeps_it_returned_and_out_of_the_warranty_index(crud, table):
    receipt = create(crud)
    crud.call(
        "PATCH",
        f"{RECEIPT}/status",
        path_parameters={"receiptId": receipt["receiptId"]},
        body={"status": "returned", "serverVersion": 1},
    )

    response = update(crud, receipt["receiptId"], **{**a_receipt(notes="kept"), "serverVersion": 2})

    assert response.status == 200, response.body
    assert response.body["status"] == "returned"
    assert warranty_index(table) == []
    assert [i["receiptId"] for i in list_all(crud, status="returned")] == [receipt["receiptId"]]


def test_update_that_extends_the_warranty_moves_it_in_the_index(crud, table):
    receipt = create(crud, warrantyMonths=0)
    assert warranty_index(table) == []

    update(crud, receipt["receiptId"], **{**a_receipt(warrantyMonths=36), "serverVersion": 1})

    [entry] = warranty_index(table)
    assert entry["warrantySK"].startswith(entry["warrantyExpiryDate"])


# -- status -----------------------------------------------------------------------------------


def change_status(crud: ApiClient, receipt_id: str, status: str, version: int, user: str = "user-a"):
    return crud.call(
        "PATCH",
        f"{RECEIPT}/status",
        path_parameters={"receiptId": receipt_id},
        body={"status": status, "serverVersion": version},
        user=user,
    )


def test_returning_a_receipt_removes_it_from_the_warranty_index_with_one_update_item(crud, calls, table):
    receipt = create(crud)
    calls.reset()

    response = change_status(crud, receipt["receiptId"], "returned", 1)

    assert response.status == 200
    assert response.body["status"] == "returned" and response.body["serverVersion"] == 2
    assert calls.counts == {"UpdateItem": 1}
    assert warranty_index(table) == []
    item = stored_receipts(table)[0]
    assert "warrantyPK" not in item and "warrantySK" not in item


def test_reactivating_a_receipt_with_a_live_warranty_rejoins_the_warranty_index(crud, table):
    receipt = create(crud)
    change_status(crud, receipt["receiptId"], "archived", 1)

    response = change_status(crud, receipt["receiptId"], "active", 2)

    assert response.status == 200
    assert [item["receiptId"] for item in warranty_index(table)] == [receipt["receiptId"]]


def test_reactivating_a_receipt_without_warranty_stays_out_of_the_index(crud, calls, table):
    receipt = create(crud, warrantyMonths=0)
    change_status(crud, receipt["receiptId"], "archived", 1)
    calls.reset()

    response = change_status(crud, receipt["receiptId"], "active", 2)

    assert response.status == 200
    assert calls.counts == {"UpdateItem": 1}
    assert "warrantyPK" not in stored_receipts(table)[0]


def test_status_change_with_a_stale_version_is_409(crud, table):
    receipt = create(crud)

    response = change_status(crud, receipt["receiptId"], "returned", 5)

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"]["status"] == "active"
    assert stored_receipts(table)[0]["status"] == "active"


def test_status_change_of_another_users_receipt_is_404(crud, table):
    receipt = create(crud, user="user-a")

    assert_error_shape(change_status(crud, receipt["receiptId"], "returned", 1, user="user-b"), 404, "NOT_FOUND")
    assert stored_receipts(table)[0]["status"] == "active"


@pytest.mark.parametrize("body", [{"status": "deleted", "serverVersion": 1}, {"status": "returned"}, {}])
def test_invalid_status_changes_are_400(crud, body):
    receipt = create(crud)

    response = crud.call("PATCH", f"{RECEIPT}/status", path_parameters={"receiptId": receipt["receiptId"]}, body=body)

    assert_error_shape(response, 400, "VALIDATION_ERROR")


# -- delete and restore -----------------------------------------------------------------------


def delete(crud: ApiClient, receipt_id: str, user: str = "user-a"):
    return crud.call("DELETE", RECEIPT, path_parameters={"receiptId": receipt_id}, user=user)


def restore(crud: ApiClient, receipt_id: str, user: str = "user-a"):
    return crud.call("POST", f"{RECEIPT}/restore", path_parameters={"receiptId": receipt_id}, user=user)


def test_delete_is_soft_with_a_30_day_ttl_and_one_update_item(crud, calls, table):
    receipt = create(crud)
    calls.reset()

    response = delete(crud, receipt["receiptId"])

    assert response.status == 200
    assert response.body["status"] == "deleted" and response.body["deletedAt"]
    assert response.body["serverVersion"] == 2
    assert calls.counts == {"UpdateItem": 1}
    item = stored_receipts(table)[0]
    expected_ttl = (utc_now() + dt.timedelta(days=30)).timestamp()
    assert abs(int(item["ttl"]) - expected_ttl) < 60
    assert warranty_index(table) == []
    fetched = crud.call("GET", RECEIPT, path_parameters={"receiptId": receipt["receiptId"]})
    assert fetched.body["status"] == "deleted"


def test_delete_is_idempotent(crud, table):
    receipt = create(crud)
    first = delete(crud, receipt["receiptId"])

    second = delete(crud, receipt["receiptId"])

    assert second.status == 200
    assert second.body == first.body
    assert stored_receipts(table)[0]["serverVersion"] == 2


def test_delete_of_another_users_receipt_is_404_and_changes_nothing(crud, table):
    receipt = create(crud, user="user-a")

    assert_error_shape(delete(crud, receipt["receiptId"], user="user-b"), 404, "NOT_FOUND")
    assert stored_receipts(table)[0]["status"] == "active"
    assert len(stored_receipts(table)) == 1


def test_restore_brings_back_the_previous_status_and_the_warranty(crud, table):
    receipt = create(crud)
    delete(crud, receipt["receiptId"])

    response = restore(crud, receipt["receiptId"])

    assert response.status == 200
    assert response.body["status"] == "active" and "deletedAt" not in response.body
    assert response.body["serverVersion"] == 3
    item = stored_receipts(table)[0]
    assert "ttl" not in item and "previousStatus" not in item
    assert [entry["receiptId"] for entry in warranty_index(table)] == [receipt["receiptId"]]


def test_restore_of_an_archived_receipt_returns_it_to_archived(crud, table):
    receipt = create(crud)
    change_status(crud, receipt["receiptId"], "archived", 1)
    delete(crud, receipt["receiptId"])

    response = restore(crud, receipt["receiptId"])

    assert response.body["status"] == "archived"
    assert warranty_index(table) == []


def test_restore_after_the_30_day_window_is_410_and_changes_nothing(crud, table):
    receipt = create(crud)
    delete(crud, receipt["receiptId"])
    long_ago = (utc_now() - dt.timedelta(days=31)).isoformat()
    table.update_item(
        Key={"PK": "USER#user-a", "SK": f"RECEIPT#{receipt['receiptId']}"},
        UpdateExpression="SET deletedAt = :t",
        ExpressionAttributeValues={":t": long_ago},
    )

    response = restore(crud, receipt["receiptId"])

    assert_error_shape(response, 410, "GONE")
    assert stored_receipts(table)[0]["status"] == "deleted"


def test_restore_of_a_receipt_that_is_not_deleted_changes_nothing(crud, table):
    receipt = create(crud)

    response = restore(crud, receipt["receiptId"])

    assert response.status == 200
    assert response.body["serverVersion"] == 1


def test_restore_of_another_users_receipt_is_404(crud, table):
    receipt = create(crud, user="user-a")
    delete(crud, receipt["receiptId"])

    assert_error_shape(restore(crud, receipt["receiptId"], user="user-b"), 404, "NOT_FOUND")
    assert stored_receipts(table)[0]["status"] == "deleted"


# -- errors and CORS --------------------------------------------------------------------------


def test_an_unexpected_failure_is_a_500_without_internal_text(crud, monkeypatch):
    def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret internal detail: table ReceiptVault-test")

    monkeypatch.setattr(crud.module.receipts.store, "get", explode)

    response = crud.call("GET", RECEIPT, path_parameters={"receiptId": str(uuid.uuid4())})

    assert_error_shape(response, 500, "INTERNAL_ERROR")
    assert "secret" not in str(response.body) and "ReceiptVault" not in str(response.body)


def test_an_unknown_route_is_404_in_the_standard_shape(crud):
    assert_error_shape(crud.call("GET", "/nothing-here"), 404, "NOT_FOUND")


def test_responses_carry_cors_headers_for_an_allowed_origin_only(crud):
    allowed = crud.call("GET", "/receipts", headers={"Origin": ALLOWED_ORIGIN})
    other = crud.call("GET", "/receipts", headers={"Origin": "https://evil.example"})
    error = crud.call("GET", RECEIPT, path_parameters={"receiptId": "x"}, headers={"Origin": ALLOWED_ORIGIN})

    assert allowed.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert "Access-Control-Allow-Origin" not in other.headers
    assert error.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN


# -- observability ----------------------------------------------------------------------------


def test_logs_carry_a_hashed_user_id_and_never_the_user_or_receipt_content(crud):
    logs = io.StringIO()
    crud.module.observability.logger.registered_handler.setStream(logs)
    crud.module.observability.logger.setLevel("INFO")

    crud.call("POST", "/receipts", body=a_receipt(notes="private note"), user="sub-1234-secret")

    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert any(line.get("user_hash") == hash_user_id("sub-1234-secret") for line in lines)
    assert "sub-1234-secret" not in logs.getvalue() and "private note" not in logs.getvalue()
    assert any(line["message"] == "request completed" and line["status"] == 201 for line in lines)


def test_a_new_receipt_is_counted_as_an_emf_metric(crud, capsys):
    create(crud)

    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any("ReceiptCreateCount" in blob and blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] for blob in emitted)


@pytest.mark.parametrize("version", [10**38 - 1, 2**53, 10**400], ids=["38-digits", "past-safe-integer", "401-digits"])
def test_a_version_no_write_could_reach_is_a_400_that_changes_nothing(crud, version):
    receipt = create(crud, storeName="Lidl")
    path = {"receiptId": receipt["receiptId"]}

    update = crud.call("PUT", RECEIPT, path_parameters=path, body={"serverVersion": version, "notes": "x"})
    status = crud.call(
        "PATCH", f"{RECEIPT}/status", path_parameters=path, body={"status": "archived", "serverVersion": version}
    )

    assert update.status == status.status == 400
    assert update.body["error"] == status.body["error"] == "VALIDATION_ERROR"
    assert crud.call("GET", RECEIPT, path_parameters=path).body == receipt
