"""Through the local gateway: parallel writers never lose data, and no user reaches another's data."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import http, new_user_token

PARALLEL = 20


def in_parallel(count: int, call) -> list[Any]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda index: call(index), range(count)))


def a_receipt(stack, token: str, total: str = "100.00") -> dict[str, Any]:
    body = {"storeName": "Kotsovolos", "totalAmount": total, "currency": "EUR", "purchaseDate": "2026-10-01"}
    return http(stack, "POST", "/receipts", body, token=token).body


# -- concurrency --------------------------------------------------------------------------------


def test_of_20_parallel_updates_at_the_same_version_exactly_one_wins(stack):
    token = new_user_token(stack)
    receipt = a_receipt(stack, token)
    path = f"/receipts/{receipt['receiptId']}"

    responses = in_parallel(
        PARALLEL,
        lambda index: http(stack, "PUT", path, {"storeName": f"Writer {index}", "serverVersion": 1}, token=token),
    )

    statuses = sorted(response.status for response in responses)
    assert statuses == [200] + [409] * (PARALLEL - 1)
    [winner] = [response.body for response in responses if response.status == 200]
    stored = http(stack, "GET", path, token=token).body
    assert stored["serverVersion"] == 2 and stored["storeName"] == winner["storeName"]
    assert all(r.body["current"]["serverVersion"] >= 2 for r in responses if r.status == 409)


def test_parallel_sync_pushes_from_two_devices_lose_no_user_edit(stack):
    token = new_user_token(stack)
    receipts = [a_receipt(stack, token, total=f"{100 + index}.00") for index in range(5)]  # not duplicates

    def device(index: int) -> Any:
        field, value = ("notes", "from phone") if index % 2 == 0 else ("tags", ["from tablet"])
        items = [{"receiptId": r["receiptId"], "serverVersion": 1, field: value} for r in receipts]
        return http(stack, "POST", "/sync/push", {"items": items}, token=token)

    responses = in_parallel(2, device)

    assert all(response.status == 200 for response in responses)
    for receipt in receipts:
        stored = http(stack, "GET", f"/receipts/{receipt['receiptId']}", token=token).body
        assert stored["notes"] == "from phone" and stored["tags"] == ["from tablet"], stored
        assert stored["serverVersion"] == 3


def test_of_parallel_category_saves_from_the_same_version_exactly_one_wins(stack):
    token = new_user_token(stack)

    responses = in_parallel(
        10, lambda index: http(stack, "PUT", "/categories", {"custom": [f"List {index}"], "version": 0}, token=token)
    )

    assert sorted(response.status for response in responses) == [200] + [409] * 9
    [winner] = [response.body for response in responses if response.status == 200]
    assert http(stack, "GET", "/categories", token=token).body["custom"] == winner["custom"]


# -- isolation ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def owner_and_intruder(stack) -> dict[str, Any]:
    owner, intruder = new_user_token(stack), new_user_token(stack)
    receipt = a_receipt(stack, owner)
    upload = http(
        stack,
        "POST",
        f"/receipts/{receipt['receiptId']}/images/upload-url",
        {"contentType": "image/jpeg", "contentLength": 1000},
        token=owner,
    ).body
    device = http(
        stack, "POST", "/user/devices", {"platform": "android", "token": f"fcm:{uuid.uuid4().hex}"}, token=owner
    )
    export = http(stack, "POST", "/user/export", {}, token=owner).body
    return {
        "owner": owner,
        "intruder": intruder,
        "receiptId": receipt["receiptId"],
        "imageId": upload["imageId"],
        "deviceId": device.body["deviceId"],
        "exportId": export["exportId"],
    }


ID_ROUTES = [
    ("GET", "/receipts/{receiptId}", None),
    ("PUT", "/receipts/{receiptId}", {"storeName": "Mine now", "serverVersion": 1}),
    ("DELETE", "/receipts/{receiptId}", None),
    ("POST", "/receipts/{receiptId}/restore", None),
    ("PATCH", "/receipts/{receiptId}/status", {"status": "archived", "serverVersion": 1}),
    ("POST", "/receipts/{receiptId}/refine", {"ocrRawText": "TOTAL 1.00"}),
    ("POST", "/receipts/{receiptId}/images/upload-url", {"contentType": "image/jpeg", "contentLength": 1000}),
    ("GET", "/receipts/{receiptId}/images/{imageId}/download-url", None),
    ("GET", "/user/export/{exportId}", None),
    ("DELETE", "/user/devices/{deviceId}", None),
]


@pytest.mark.parametrize(("method", "route", "body"), ID_ROUTES, ids=[f"{m} {r}" for m, r, _ in ID_ROUTES])
def test_another_users_id_is_404_and_changes_nothing(stack, owner_and_intruder, method, route, body):
    ids = owner_and_intruder
    path = route.format(**ids)
    before = snapshot(stack, ids)

    response = http(stack, method, path, body, token=ids["intruder"])

    assert response.status == 404, (path, response.body)
    assert response.body["error"] == "NOT_FOUND" and response.body["requestId"]
    assert snapshot(stack, ids) == before


def snapshot(stack, ids: dict[str, Any]) -> dict[str, Any]:
    """What the owner sees of everything the routes above could touch."""
    owner = ids["owner"]
    export = http(stack, "GET", f"/user/export/{ids['exportId']}", token=owner).body
    return {
        "receipt": http(stack, "GET", f"/receipts/{ids['receiptId']}", token=owner).body,
        "devices": http(stack, "GET", "/user/settings", token=owner).body["devices"],
        "export": export["exportId"],
    }
