"""Warranty claims through receipt-crud: a new claim and a change of one, each conditional on the
receipt's version, once however often retried; their effect on the warranty in force; sync and
export carry them as a field of the receipt."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from receipt_vault.clock import utc_now
from tests.conftest import ApiClient, assert_error_shape, load_function
from tests.functions import test_export as exports

export_env = exports.export_env  # the export's fixture, reused under its name

CLAIMS = "/receipts/{receiptId}/claims"
CLAIM = "/receipts/{receiptId}/claims/{claimId}"


@pytest.fixture
def crud(api_env) -> ApiClient:
    return ApiClient(load_function("receipt_crud"))


def a_receipt(crud: ApiClient, user: str = "user-a", **fields: Any) -> dict[str, Any]:
    purchased = utc_now().date() - dt.timedelta(days=300)
    body = {"storeName": "MediaMarkt", "purchaseDate": purchased.isoformat(), "warrantyMonths": 12, **fields}
    response = crud.call("POST", "/receipts", body=body, user=user)
    assert response.status == 201, response.body
    return response.body


def open_claim(crud: ApiClient, receipt: dict[str, Any], user: str = "user-a", **fields: Any):
    body = {"serverVersion": receipt["serverVersion"], "openedAt": utc_now().date().isoformat(), **fields}
    return crud.call("POST", CLAIMS, path_parameters={"receiptId": receipt["receiptId"]}, body=body, user=user)


def change_claim(crud: ApiClient, receipt: dict[str, Any], claim_id: str, user: str = "user-a", **fields: Any):
    path = {"receiptId": receipt["receiptId"], "claimId": claim_id}
    body = {"serverVersion": receipt["serverVersion"], **fields}
    return crud.call("PATCH", CLAIM, path_parameters=path, body=body, user=user)


def stored(table, receipt: dict[str, Any], user: str = "user-a") -> dict[str, Any]:
    return table.get_item(Key={"PK": f"USER#{user}", "SK": f"RECEIPT#{receipt['receiptId']}"})["Item"]


def test_a_claim_is_recorded_on_the_receipt_and_moves_its_version(crud):
    receipt = a_receipt(crud)

    response = open_claim(crud, receipt, reference="RMA-1", notes="left earbud silent", cost="0.00")

    assert response.status == 201, response.body
    [claim] = response.body["claims"]
    assert claim["status"] == "open" and claim["reference"] == "RMA-1" and uuid.UUID(claim["claimId"])
    assert response.body["serverVersion"] == receipt["serverVersion"] + 1
    got = crud.call("GET", "/receipts/{receiptId}", path_parameters={"receiptId": receipt["receiptId"]}).body
    assert got["claims"] == [claim]


def test_a_retried_claim_with_its_id_is_answered_as_it_is_and_written_once(crud, table):
    receipt = a_receipt(crud)
    claim_id = str(uuid.uuid4())
    first = open_claim(crud, receipt, claimId=claim_id, reference="RMA-1")
    after = stored(table, receipt)

    retried = open_claim(crud, receipt, claimId=claim_id.upper(), reference="RMA-1")  # the answer was lost

    assert (first.status, retried.status) == (201, 200)
    assert retried.body == first.body and stored(table, receipt) == after
    other = open_claim(crud, receipt, claimId=claim_id, reference="RMA-2")
    assert_error_shape(other, 409, "VERSION_CONFLICT")


def test_a_claim_on_a_stale_version_is_a_409_and_changes_nothing(crud, table):
    receipt = a_receipt(crud)
    open_claim(crud, receipt)  # another phone's claim moved the version
    before = stored(table, receipt)

    response = open_claim(crud, receipt, reference="second")

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"]["serverVersion"] == receipt["serverVersion"] + 1
    assert stored(table, receipt) == before


def test_a_change_closes_a_claim_and_its_retry_writes_nothing(crud, table):
    receipt = a_receipt(crud)
    opened = open_claim(crud, receipt).body
    [claim] = opened["claims"]
    closed_on = utc_now().date().isoformat()

    changed = change_claim(crud, opened, claim["claimId"], status="rejected", closedAt=closed_on, notes="not covered")
    assert changed.status == 200, changed.body
    after = stored(table, receipt)
    retried = change_claim(crud, opened, claim["claimId"], status="rejected", closedAt=closed_on, notes="not covered")

    assert changed.body["claims"][0] == {**claim, "status": "rejected", "closedAt": closed_on, "notes": "not covered"}
    assert retried.status == 200 and retried.body == changed.body and stored(table, receipt) == after
    removed = change_claim(crud, changed.body, claim["claimId"], remove=["notes"])
    assert "notes" not in removed.body["claims"][0]


def test_a_replacement_that_ends_the_warranty_takes_the_receipt_out_of_the_warranty_index(crud, table):
    receipt = a_receipt(crud)
    assert "warrantyPK" in stored(table, receipt)
    opened = open_claim(crud, receipt).body
    claim_id = opened["claims"][0]["claimId"]
    today = utc_now().date().isoformat()

    ended = change_claim(crud, opened, claim_id, status="replaced", closedAt=today, endsWarranty=True).body

    assert "warrantyPK" not in stored(table, receipt)
    reopened = change_claim(crud, ended, claim_id, remove=["endsWarranty"])  # the user changes their mind
    assert reopened.status == 200 and "warrantyPK" in stored(table, receipt)


def test_a_repair_extends_the_cover_in_force(crud, table):
    receipt = a_receipt(crud)  # the manufacturer's cover ends in about two months
    today = utc_now().date()
    opened = open_claim(crud, receipt).body
    claim_id = opened["claims"][0]["claimId"]

    change_claim(crud, opened, claim_id, status="repaired", closedAt=today.isoformat(), extendsWarrantyMonths=12)

    item = stored(table, receipt)
    extended_to = item["warrantySK"].split("#")[0]
    assert extended_to > receipt["warrantyExpiryDate"]
    assert dt.date.fromisoformat(extended_to) >= today + dt.timedelta(days=360)


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "open", "closedAt": "2026-01-01"},  # closed only once closed
        {"status": "rejected", "closedAt": "1999-01-01", "openedAt": "2000-01-01"},  # before it opened
        {"status": "repaired", "endsWarranty": True},  # only a replacement or a refund ends it
        {"status": "repaired", "extendsWarrantyMonths": 12},  # without closedAt
        {"status": "replaced", "closedAt": "2026-01-01", "openedAt": "2026-01-01", "extendsWarrantyMonths": 3},
        {"status": "lost"},
        {"extendsWarrantyMonths": 121, "status": "repaired", "closedAt": "2026-01-01", "openedAt": "2026-01-01"},
        {"reference": "é" * 51},
        {"openedAt": "2026-02-30"},
        {"claimId": "not-a-uuid"},
        {"cost": 12.5},
        {"insurer": "x"},
    ],
)
def test_an_inconsistent_or_malformed_claim_is_a_400_and_nothing_is_written(crud, table, fields):
    receipt = a_receipt(crud)
    before = stored(table, receipt)

    response = open_claim(crud, receipt, **fields)

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert stored(table, receipt) == before


def test_a_change_that_leaves_a_claim_inconsistent_is_a_400(crud, table):
    receipt = a_receipt(crud)
    opened = open_claim(crud, receipt).body
    before = stored(table, receipt)

    response = change_claim(crud, opened, opened["claims"][0]["claimId"], endsWarranty=True)

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert stored(table, receipt) == before


@pytest.mark.parametrize("whose", ["receipt", "claim"])
def test_another_users_receipt_or_an_unknown_claim_is_a_404(crud, table, whose):
    mine = a_receipt(crud, user="user-a")
    opened = open_claim(crud, mine).body
    before = stored(table, mine)
    claim_id = opened["claims"][0]["claimId"] if whose == "receipt" else str(uuid.uuid4())
    user = "user-b" if whose == "receipt" else "user-a"

    assert_error_shape(change_claim(crud, opened, claim_id, user=user, status="approved"), 404, "NOT_FOUND")
    if whose == "receipt":
        assert_error_shape(open_claim(crud, opened, user="user-b"), 404, "NOT_FOUND")
    assert stored(table, mine) == before


def test_at_most_twenty_claims(crud):
    receipt = a_receipt(crud)
    for _ in range(20):
        receipt = open_claim(crud, receipt).body

    assert_error_shape(open_claim(crud, receipt), 400, "VALIDATION_ERROR")


def test_claims_sync_as_a_user_owned_field_and_a_put_round_trip_keeps_them(crud, api_env, monkeypatch):
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    sync = ApiClient(load_function("sync_handler"))
    receipt = a_receipt(crud)
    since = sync.call("POST", "/sync/pull", body={}).body["syncTimestamp"]
    with_claim = open_claim(crud, receipt, reference="RMA-9").body

    pulled = sync.call("POST", "/sync/pull", body={"lastSyncTimestamp": since}).body["items"]
    assert [item["claims"] for item in pulled] == [with_claim["claims"]]
    path = {"receiptId": receipt["receiptId"]}
    echoed = crud.call("PUT", "/receipts/{receiptId}", path_parameters=path, body=with_claim)
    assert echoed.status == 200 and echoed.body == with_claim  # nothing changed: nothing written
    # A stale device's claims win (a user-owned field), as its notes would.
    stale = {
        "receiptId": receipt["receiptId"],
        "serverVersion": receipt["serverVersion"],
        "mutationId": str(uuid.uuid4()),
        "claims": [{**with_claim["claims"][0], "status": "approved"}],
    }
    [result] = sync.call("POST", "/sync/push", body={"items": [stale]}).body["results"]
    assert result["outcome"] in ("accepted", "merged") and result["item"]["claims"][0]["status"] == "approved"


def test_a_field_both_changed_and_removed_is_a_400(crud):
    receipt = a_receipt(crud)
    opened = open_claim(crud, receipt, notes="x").body

    response = change_claim(crud, opened, opened["claims"][0]["claimId"], notes="y", remove=["notes"])

    assert_error_shape(response, 400, "VALIDATION_ERROR")


def test_the_export_carries_the_claims_and_the_cover_with_the_receipt(export_env):
    crud = ApiClient(load_function("receipt_crud"))
    receipt = a_receipt(crud, user=exports.USER, extendedWarranty={"provider": "CarePlus", "months": 36})
    with_claim = open_claim(crud, receipt, user=exports.USER, reference="RMA-7").body
    export_id = (
        ApiClient(load_function("export_request")).call("POST", "/user/export", user=exports.USER).body["exportId"]
    )

    assert exports.deliver(load_function("export_handler"), export_env)["batchItemFailures"] == []

    [exported] = json.loads(exports.the_zip(export_id).read("receipts.json"))
    assert exported["claims"] == with_claim["claims"] and exported["extendedWarranty"]["provider"] == "CarePlus"


@pytest.mark.parametrize("nested", ["claims", "extendedWarranty"])
def test_a_pushed_null_inside_a_claim_or_a_cover_is_that_items_rejection_as_a_post_would_be(
    crud, table, nested, monkeypatch
):
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    sync = ApiClient(load_function("sync_handler"))
    receipt = a_receipt(crud)
    before = stored(table, receipt)
    value = (
        [{"claimId": str(uuid.uuid4()), "openedAt": "2026-10-01", "reference": None}]
        if nested == "claims"
        else {"provider": "CarePlus", "months": 12, "cost": None}
    )
    item = {
        "receiptId": receipt["receiptId"],
        "serverVersion": receipt["serverVersion"],
        "mutationId": "m-1",
        nested: value,
    }

    [result] = sync.call("POST", "/sync/push", body={"items": [item]}).body["results"]

    assert result["outcome"] == "rejected" and result["error"]["error"] == "VALIDATION_ERROR"
    assert stored(table, receipt) == before
