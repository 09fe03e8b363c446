"""Each invocation in an execution environment of its own, as in Lambda: parallel, warm, isolated,
held to reserved concurrency, and stopped when it runs past its timeout or dies."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from local.runtime import FunctionError, TooManyRequestsError
from tests.integration.conftest import http

PROBE = "EnvironmentProbeFunction"
RESERVED = "ReservedProbeFunction"


class Gate:
    """Invocations given `gate` check in here and wait until released: the test knows they run."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(30)
        self.port = self._server.getsockname()[1]
        self._waiting: list[socket.socket] = []

    def arrivals(self, count: int) -> list[int]:
        """The pids of the next `count` invocations to reach the gate, once all are there."""
        pids = []
        for _ in range(count):
            connection, _ = self._server.accept()
            pids.append(int(connection.makefile().readline()))
            self._waiting.append(connection)
        return pids

    def release(self) -> None:
        for connection in self._waiting:
            connection.sendall(b"x")
            connection.close()
        self._waiting.clear()

    def close(self) -> None:
        self.release()
        self._server.close()


@contextmanager
def gate() -> Iterator[Gate]:
    opened = Gate()
    try:
        yield opened
    finally:
        opened.close()


def invoke_in_background(pool: ThreadPoolExecutor, stack, function: str, event: dict[str, Any], **options) -> Future:
    return pool.submit(stack.invoke, function, event, **options)


def test_concurrent_invocations_run_at_once_each_in_its_own_environment(stack):
    stack.functions[PROBE].retire_environments()
    with gate() as waiting, ThreadPoolExecutor(3) as pool:
        running = [invoke_in_background(pool, stack, PROBE, {"gate": waiting.port}) for _ in range(3)]
        pids = waiting.arrivals(3)  # all three are inside the handler at the same time
        waiting.release()
        results = [future.result(timeout=30) for future in running]

    assert len(set(pids)) == 3 and {result["pid"] for result in results} == set(pids)
    assert all(result["invocations"] == 1 for result in results)  # no module state is shared


def test_a_warm_environment_is_reused_and_keeps_its_module_state(stack):
    first = stack.invoke(PROBE, {})
    second = stack.invoke(PROBE, {})

    assert second["pid"] == first["pid"] and second["invocations"] == first["invocations"] + 1


def test_the_environment_is_the_functions_own_and_nothing_of_the_developers(stack, monkeypatch):
    monkeypatch.setenv("PROBE_DEVELOPER_VARIABLE", "from my shell")
    stack.functions[PROBE].retire_environments()  # a new environment, started with the variable set

    seen = stack.invoke(PROBE, {})

    assert seen["developerVariable"] is None and seen["ownVariable"] == "own"
    assert seen["timezone"] == "UTC"
    assert seen["layerImportable"] and not seen["projectImportable"]
    assert 0 < seen["remainingMs"] <= 2000


def test_beyond_reserved_concurrency_a_synchronous_call_is_throttled_and_queued_work_waits(stack):
    with gate() as waiting, ThreadPoolExecutor(2) as pool:
        busy = invoke_in_background(pool, stack, RESERVED, {"gate": waiting.port})
        waiting.arrivals(1)
        with pytest.raises(TooManyRequestsError):
            stack.invoke(RESERVED, {})
        over_http = http(stack, "POST", f"/_local/invoke/{RESERVED}", {})
        queued = invoke_in_background(pool, stack, RESERVED, {}, wait_for_capacity=True)
        assert not queued.done()
        waiting.release()

        assert busy.result(timeout=30)["invocations"] >= 1
        assert queued.result(timeout=30)["pid"] == busy.result()["pid"]  # the one environment, reused
    assert over_http.status == 429 and over_http.body["error"] == "TOO_MANY_REQUESTS"


def test_without_reserved_concurrency_calls_past_the_local_limit_wait_instead_of_failing(stack, monkeypatch):
    monkeypatch.setattr(stack.functions[PROBE], "unreserved_limit", 1)
    with gate() as waiting, ThreadPoolExecutor(2) as pool:
        busy = invoke_in_background(pool, stack, PROBE, {"gate": waiting.port})
        waiting.arrivals(1)
        second = invoke_in_background(pool, stack, PROBE, {})  # synchronous, yet not throttled
        assert not second.done()
        waiting.release()

        assert second.result(timeout=30)["pid"] == busy.result(timeout=30)["pid"]


def test_an_invocation_past_its_timeout_is_stopped_and_its_environment_discarded(stack):
    before = stack.invoke(PROBE, {})

    with pytest.raises(FunctionError) as timed_out:
        stack.invoke(PROBE, {"action": "hang"})
    after = stack.invoke(PROBE, {})

    assert timed_out.value.payload["errorType"] == "Sandbox.Timedout"
    assert "timed out after 2.00 seconds" in timed_out.value.payload["errorMessage"]
    assert after["pid"] != before["pid"] and after["invocations"] == 1
    with pytest.raises(ProcessLookupError):
        os.kill(before["pid"], 0)


def test_an_environment_that_dies_takes_no_more_invocations(stack):
    with pytest.raises(FunctionError) as crashed:
        stack.invoke(PROBE, {"action": "crash"})

    assert crashed.value.payload["errorType"] == "Runtime.ExitError"
    assert stack.invoke(PROBE, {})["invocations"] == 1


def test_a_result_json_cannot_encode_fails_as_lambda_fails_it(stack):
    with pytest.raises(FunctionError) as failed:
        stack.invoke(PROBE, {"action": "decimal"})

    assert failed.value.payload["errorType"] == "Runtime.MarshalError"


def test_parallel_writers_through_the_gateway_ran_in_more_than_one_environment(stack):
    from tests.integration.conftest import new_user_token
    from tests.integration.test_concurrency_and_isolation import PARALLEL, a_receipt, in_parallel

    crud = stack.functions["ReceiptCrudFunction"]
    crud.retire_environments()
    token = new_user_token(stack)
    receipt = a_receipt(stack, token)
    path = f"/receipts/{receipt['receiptId']}"
    started = threading.Barrier(PARALLEL)

    def writer(index: int) -> int:
        started.wait()
        return http(stack, "PUT", path, {"storeName": f"W{index}", "serverVersion": 1}, token=token).status

    statuses = in_parallel(PARALLEL, writer)

    assert sorted(statuses) == [200] + [409] * (PARALLEL - 1)  # the conditional write decided
    assert crud.warm_environments > 1


def test_a_function_reaches_only_what_its_template_role_allows(stack, capsys):
    table = stack.resources.physical_id("ReceiptVaultTable")
    item = {"PK": {"S": "PROBE#role"}, "SK": {"S": "ROLE"}}
    role_call = {"action": "aws", "service": "dynamodb"}

    allowed = stack.invoke(PROBE, {**role_call, "operation": "put_item", "params": {"TableName": table, "Item": item}})
    refused = stack.invoke(
        PROBE, {**role_call, "operation": "delete_item", "params": {"TableName": table, "Key": item}}
    )

    assert allowed["error"] is None
    assert (refused["error"], refused["status"]) == ("AccessDeniedException", 400)
    assert (
        refused["message"].startswith("User: arn:aws:sts::")
        and "ProbeRole/EnvironmentProbeFunction is not" in refused["message"]
    )
    assert "not authorized to perform: dynamodb:DeleteItem on resource: arn:aws:dynamodb:" in refused["message"]
    assert stack.resources.client("dynamodb").get_item(TableName=table, Key=item).get("Item") == item  # not deleted
    denials = [json.loads(line) for line in capsys.readouterr().err.splitlines() if '"AccessDenied"' in line]
    denial = denials[-1]  # the function's log, as CloudWatch would have it
    assert denial["action"] == "dynamodb:DeleteItem" and denial["role"] == "ProbeRole"
