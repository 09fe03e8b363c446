"""Truly concurrent writers on one receipt: threads against in-process moto, decided by the code.

Each thread is a device (or a REST client) running the same service code a Lambda would, at
the same instant, released together by a barrier. moto's DynamoDB is made atomic per request,
as DynamoDB is (local/emulation.py), so only the code's conditional writes decide who wins.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from receipt_vault.clock import utc_now
from receipt_vault.receipts.models import ReceiptUpdate
from tests.conftest import ApiClient, load_function

DEVICES = 12


@pytest.fixture
def sync(api_env, monkeypatch) -> ApiClient:
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    return ApiClient(load_function("sync_handler"))


@pytest.fixture
def crud(api_env) -> ApiClient:
    return ApiClient(load_function("receipt_crud"))


def all_at_once(count: int, action: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)

    def released(index: int) -> Any:
        barrier.wait()
        return action(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(released, range(count)))


def pushed(sync: ApiClient, item: dict[str, Any]) -> dict[str, Any]:
    """One device's push, straight into the service: a Lambda environment serves one request at
    a time, so concurrency is many environments sharing the table, not one handler's globals."""
    service = sync.module.sync
    request = sync.module.PushRequest(items=[item])
    return service.push("user-a", request)["results"][0]


def a_receipt(sync: ApiClient) -> str:
    receipt_id = str(uuid.uuid4())
    assert pushed(sync, {"receiptId": receipt_id, "storeName": "Lidl"})["outcome"] == "accepted"
    return receipt_id


def current(sync: ApiClient, receipt_id: str) -> dict[str, Any]:
    return sync.module.sync.store.get("user-a", receipt_id)


def test_copies_of_one_push_racing_each_other_apply_it_exactly_once(sync):
    receipt_id = a_receipt(sync)
    one_push = {"receiptId": receipt_id, "serverVersion": 1, "notes": "once", "mutationId": str(uuid.uuid4())}

    results = all_at_once(DEVICES, lambda _: pushed(sync, one_push))

    outcomes = sorted(result["outcome"] for result in results)
    assert outcomes == ["accepted"] + ["duplicate"] * (DEVICES - 1), outcomes
    assert current(sync, receipt_id)["serverVersion"] == 2


def test_devices_racing_on_one_version_each_land_once_and_none_is_lost(sync):
    receipt_id = a_receipt(sync)

    def device(index: int) -> dict[str, Any]:
        change = {"receiptId": receipt_id, "serverVersion": 1, "mutationId": f"device-{index}"}
        return pushed(sync, {**change, "notes": f"device {index}"})

    results = all_at_once(DEVICES, device)

    landed = [result for result in results if result["outcome"] == "accepted"]
    final = current(sync, receipt_id)
    # Every landed push made its own version; the last of them holds the field (tier 2).
    assert sorted(result["serverVersion"] for result in landed) == list(range(2, 2 + len(landed)))
    assert final["serverVersion"] == 1 + len(landed)
    assert final["notes"] == max(landed, key=lambda result: result["serverVersion"])["item"]["notes"]
    assert {result["outcome"] for result in results} <= {"accepted", "conflict"}
    recorded = set(final["mutations"])
    assert recorded == {f"device-{int(result['item']['notes'].split()[1])}" for result in landed}


def test_offline_creates_of_one_receipt_racing_make_one_receipt_and_record_every_push(sync):
    receipt_id = str(uuid.uuid4())

    def device(index: int) -> dict[str, Any]:
        return pushed(sync, {"receiptId": receipt_id, "storeName": "Kiosk", "mutationId": f"create-{index}"})

    results = all_at_once(DEVICES, device)

    final = current(sync, receipt_id)
    others = [result for result in results if result["outcome"] != "accepted"]
    assert not others, others  # the same content: every push is accepted
    assert final["serverVersion"] == 1
    assert set(final["mutations"]) == {f"create-{index}" for index in range(DEVICES)}


def test_records_of_pushes_that_changed_nothing_are_never_lost_to_a_racing_write(sync):
    receipt_id = a_receipt(sync)

    def device(index: int) -> dict[str, Any]:
        change = {"storeName": "Lidl"} if index % 2 else {"notes": f"device {index}"}  # half change nothing
        return pushed(sync, {"receiptId": receipt_id, "serverVersion": 1, "mutationId": f"m-{index}", **change})

    results = all_at_once(DEVICES, device)

    final = current(sync, receipt_id)
    applied = {f"m-{index}" for index, result in enumerate(results) if result["outcome"] in ("accepted", "merged")}
    assert set(final["mutations"]) == applied
    retried = [pushed(sync, {"receiptId": receipt_id, "mutationId": mutation_id}) for mutation_id in applied]
    assert {result["outcome"] for result in retried} == {"duplicate"}


def test_rest_updates_racing_at_one_version_let_exactly_one_win(crud, sync):
    receipt_id = a_receipt(sync)
    service = crud.module.receipts

    def client(index: int) -> int:
        request = ReceiptUpdate(serverVersion=1, storeName=f"Writer {index}")
        try:
            service.update("user-a", receipt_id, request, utc_now())
            return 200
        except Exception as error:  # the 409 of a stale version
            return getattr(error, "status_code", 500)

    statuses = all_at_once(DEVICES, client)

    assert sorted(statuses) == [200] + [409] * (DEVICES - 1)
    assert current(sync, receipt_id)["serverVersion"] == 2
