"""Truly concurrent writers on one receipt: threads against in-process moto, decided by the code.

Each thread is a device (or a REST client) running the same service code a Lambda would, at
the same instant, released together by a barrier. moto's DynamoDB is made atomic per request,
as DynamoDB is (local/emulation.py), so only the code's conditional writes decide who wins.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from receipt_vault.clock import utc_now
from receipt_vault.receipts.models import ReceiptUpdate
from sync_handler.sync_service import PUSH_WRITE_PARALLELISM
from tests.conftest import ApiClient, DynamoCalls, load_function

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


def test_a_push_writes_its_items_concurrently_and_each_lands_once(sync):
    """Push's writes overlap, within their bound, while another device edits one of the pushed
    receipts at the same version: every new receipt lands once, and the edit is merged or
    refused, never lost."""
    shared = a_receipt(sync)
    lock = threading.Lock()
    in_flight = peak = 0

    def round_trip(**_: Any) -> None:  # the network's wait, during which the GIL is free
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.005)
        with lock:
            in_flight -= 1

    events = sync.module.table.client.meta.events
    for operation in ("PutItem", "UpdateItem", "TransactWriteItems"):
        events.register(f"before-call.dynamodb.{operation}", round_trip)
    fresh = [{"receiptId": str(uuid.uuid4()), "storeName": f"Store {n}"} for n in range(20)]
    edit = {"receiptId": shared, "serverVersion": 1, "notes": "from the push", "mutationId": str(uuid.uuid4())}
    rival = {"receiptId": shared, "serverVersion": 1, "storeName": "Aldi", "mutationId": str(uuid.uuid4())}

    def device(index: int) -> Any:
        if index == 0:
            return sync.module.sync.push("user-a", sync.module.PushRequest(items=[*fresh, edit]))["results"]
        return [pushed(sync, rival)]

    batch, (other,) = all_at_once(2, device)

    outcomes = {result["receiptId"]: result["outcome"] for result in batch}
    assert [outcomes[item["receiptId"]] for item in fresh] == ["accepted"] * len(fresh)
    assert {outcomes[shared], other["outcome"]} <= {"accepted", "merged"}
    final = current(sync, shared)
    assert (final["notes"], final["storeName"], final["serverVersion"]) == ("from the push", "Aldi", 3)
    assert 1 < peak <= PUSH_WRITE_PARALLELISM + 1  # the rival device's own write may overlap too


def test_a_push_of_new_receipts_costs_one_batch_read_and_one_conditional_write_each(sync):
    calls = DynamoCalls(sync.module.table.client)
    items = [
        {
            "receiptId": str(uuid.uuid4()),
            "storeName": f"Store {n}",
            "purchaseDate": "2026-10-01",
            "totalAmount": f"{n}.99",
            "currency": "EUR",
        }
        for n in range(6)
    ]

    results = sync.module.sync.push("user-a", sync.module.PushRequest(items=items))["results"]

    assert [result["outcome"] for result in results] == ["accepted"] * 6
    # Duplicate detection follows from the table's stream, off the push's path.
    assert calls.counts == {"BatchGetItem": 1, "PutItem": 6}
    assert all("ConditionExpression" in params for name, params in calls.requests if name == "PutItem")
