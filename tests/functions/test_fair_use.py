"""Fair use, per user: exports in progress and per day, refinements per day; atomic, in the
user's partition (so erasure removes the counters), answered with 429 and Retry-After."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from receipt_vault import keys
from receipt_vault.clock import utc_now
from tests.conftest import ALLOWED_ORIGIN, ApiClient, assert_error_shape, load_function, put_receipt
from tests.functions.conftest import make_queue, queued_messages
from tests.functions.test_export import deliver
from tests.support import bedrock

USER = "user-a"


@pytest.fixture
def export_queue(api_env, exports_bucket, monkeypatch) -> str:
    queue = make_queue("receiptvault-export-test")
    monkeypatch.setenv("EXPORT_QUEUE_URL", queue)
    monkeypatch.setenv("EXPORT_MAX_IN_PROGRESS", "1")
    monkeypatch.setenv("EXPORT_DAILY_LIMIT", "3")
    return queue


@pytest.fixture
def requests(export_queue) -> ApiClient:
    return ApiClient(load_function("export_request"))


def export(client: ApiClient, body: dict[str, Any] | None = None, user: str = USER):
    return client.call("POST", "/user/export", body=body or {}, user=user)


def test_a_second_export_while_one_is_pending_returns_that_one_whatever_its_range(requests, export_queue):
    first = export(requests, {"from": "2026-01-01", "to": "2026-03-31"})

    others = [export(requests, body) for body in ({}, {"from": "2025-01-01"}, {"to": "2026-12-31"})]

    assert {response.body["exportId"] for response in others} == {first.body["exportId"]}
    assert len(queued_messages(export_queue)) == 1


def test_two_export_requests_at_once_make_one_job(requests, export_queue, table):
    barrier = threading.Barrier(6)

    def at_once(index: int) -> str:
        barrier.wait()
        service = requests.module.exports  # as separate Lambda environments: the service, not the handler
        return service.request(USER, None, utc_now())["exportId"]

    with ThreadPoolExecutor(6) as pool:
        exported = list(pool.map(at_once, range(6)))

    jobs = [item for item in table.scan()["Items"] if item["SK"].startswith("EXPORT#")]
    assert len(set(exported)) == 1 and len(jobs) == 1
    assert len(queued_messages(export_queue)) == 1


def test_an_export_that_ended_frees_its_slot_and_the_daily_cap_then_answers_429(
    requests, export_queue, monkeypatch, table
):
    handler = load_function("export_handler")
    put_receipt(table, user=USER)
    made = []
    for _ in range(3):
        response = export(requests)
        made.append(response.body["exportId"])
        assert deliver(handler, export_queue)["batchItemFailures"] == []  # built: the slot is free

    refused = requests.call("POST", "/user/export", body={}, user=USER, headers={"Origin": ALLOWED_ORIGIN})

    assert len(set(made)) == 3
    assert_error_shape(refused, 429, "RATE_LIMITED")
    tomorrow = dt.datetime.combine(utc_now().date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    assert 0 < int(refused.headers["Retry-After"]) <= (tomorrow - utc_now()).total_seconds() + 2
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]  # a browser app may read it


def test_a_slot_held_by_a_job_that_never_finished_frees_itself_after_its_lease(requests, export_queue, table):
    stuck = export(requests).body["exportId"]
    slot = keys.export_slot_key(USER, 0)
    table.update_item(Key=slot, UpdateExpression="SET #u = :past", ExpressionAttributeNames={"#u": "until"},
                      ExpressionAttributeValues={":past": "2000-01-01T00:00:00.000Z"})  # fmt: skip

    fresh = export(requests)

    assert fresh.status == 202 and fresh.body["exportId"] != stuck


def test_a_job_whose_message_could_not_be_queued_gives_its_slot_back(requests, export_queue, table, monkeypatch):
    def broken_queue(message: dict[str, str]) -> None:
        raise ConnectionError("SQS is down")

    monkeypatch.setattr(requests.module.exports, "enqueue", broken_queue)
    failed = export(requests)
    monkeypatch.undo()

    assert failed.status == 500
    assert [item for item in table.scan()["Items"] if item["SK"].startswith(("EXPORT#", "EXPORTSLOT#"))] == []


# -- refinement ----------------------------------------------------------------------------------


@pytest.fixture
def refine(refine_fn, monkeypatch) -> ApiClient:
    refine_fn.module.refinements.quota.limit = 2
    answers = [bedrock.tool_answer(bedrock.extraction()) for _ in range(5)]
    refine_fn.module.refinements.gateway.bedrock = bedrock.ScriptedBedrock(haiku=answers)
    return refine_fn


def test_refinements_past_the_daily_quota_are_429_and_never_reach_bedrock(refine, table):
    receipt = put_receipt(table, user=USER, ocrRawText="LIDL 3,59")
    path = {"receiptId": receipt["receiptId"]}

    statuses = [refine.call("POST", "/receipts/{receiptId}/refine", path_parameters=path, user=USER) for _ in range(3)]

    assert [response.status for response in statuses] == [200, 200, 429]
    assert_error_shape(statuses[2], 429, "RATE_LIMITED")
    assert int(statuses[2].headers["Retry-After"]) > 0
    assert len(refine.module.refinements.gateway.bedrock.requests) == 2
    other = put_receipt(table, user="user-b", ocrRawText="LIDL")
    assert refine.call("POST", "/receipts/{receiptId}/refine", path_parameters={"receiptId": other["receiptId"]},
                       user="user-b").status == 200  # fmt: skip


def test_the_quota_counters_live_in_the_users_partition(refine, table):
    receipt = put_receipt(table, user=USER, ocrRawText="LIDL 3,59")
    refine.call("POST", "/receipts/{receiptId}/refine", path_parameters={"receiptId": receipt["receiptId"]}, user=USER)

    counters = [item for item in table.scan()["Items"] if item["SK"].startswith("QUOTA#")]

    assert [item["PK"] for item in counters] == [f"USER#{USER}"] and counters[0]["ttl"]
