"""local/fuzz_hooks.py: it drops the answers to rules no schema states, and nothing else."""

from __future__ import annotations

import importlib
import json
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Operation:
    label: str


@dataclass
class Case:
    operation: Operation
    body: Any = None
    method: str = "GET"
    formatted_path: str = "/"


@dataclass
class Response:
    status_code: int
    payload: Any = None
    content: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.content = json.dumps(self.payload).encode()


@dataclass
class Failure:
    code: str
    operation: str = ""
    free: str = ""


@pytest.fixture
def hooks(monkeypatch):
    """The module as schemathesis loads it, with a stand-in that records the registered hook."""
    registered: list[Any] = []
    monkeypatch.setitem(sys.modules, "schemathesis", types.SimpleNamespace(hook=registered.append))
    monkeypatch.delitem(sys.modules, "local.fuzz_hooks", raising=False)
    module = importlib.import_module("local.fuzz_hooks")
    assert registered == [module.filter_failure, module.after_call]
    yield module
    module.DROPPED.clear()  # its report at exit is schemathesis's run's, not the tests'
    module.CALLS.clear()


def error(message: str, *details: str) -> dict[str, Any]:
    return {
        "error": "VALIDATION_ERROR",
        "message": message,
        "requestId": "r",
        "details": [{"message": d} for d in details],
    }


def keep(hooks, code: str, label: str, response: Response, body: Any = None) -> bool:
    return hooks.filter_failure(None, Failure(code), Case(Operation(label), body), response)


@pytest.mark.parametrize(
    ("label", "answer"),
    [
        ("GET /receipts", error("nextToken is invalid for this request")),
        ("POST /sync/full", error("cursor is invalid for this request")),
        ("PUT /receipts/{receiptId}", error("receiptId in the body is not the receipt of the path")),
        ("POST /user/export", error("'from' must not be after 'to'")),
        (
            "PUT /user/settings",
            error("invalid request body", "Value error, not an IANA timezone this service knows, x"),
        ),
        ("POST /receipts", error("invalid request body", "Decimal input should have no more than 12 digits in total")),
    ],
)
def test_a_400_naming_a_rule_no_schema_states_is_dropped(hooks, label, answer):
    assert not keep(hooks, "ST202", label, Response(400, answer))


@pytest.mark.parametrize(
    ("code", "label", "response"),
    [
        # The same rule, named for another operation.
        ("ST202", "POST /receipts", Response(400, error("cursor is invalid for this request"))),
        # Any other 400 of valid data: a contract and code disagreement, kept.
        (
            "ST202",
            "POST /receipts",
            Response(400, error("invalid request body", "Value error, year 0 is out of range")),
        ),
        ("ST202", "GET /receipts", Response(400, error("The request body does not match the API model"))),
        # Not a 400, or not that check.
        ("ST202", "GET /receipts", Response(413, error("nextToken is invalid for this request"))),
        ("ST201", "GET /receipts", Response(400, error("nextToken is invalid for this request"))),
        ("ST204", "GET /health", Response(404, error("No such route"))),
        ("ST202", "GET /receipts", Response(400, "not json")),
    ],
)
def test_every_other_failure_is_kept(hooks, code, label, response):
    assert keep(hooks, code, label, response)


def test_a_push_answering_its_invalid_item_rejected_is_dropped_one_accepting_it_is_kept(hooks):
    body = {"items": [{"receiptId": "r", "status": "AAA"}]}
    rejected = {"results": [{"receiptId": "r", "outcome": "rejected", "error": error("invalid receipt", "status")}]}
    accepted = {"results": [{"receiptId": "r", "outcome": "accepted"}]}
    gone = {
        "results": [{"receiptId": "r", "outcome": "gone", "error": {"error": "GONE", "message": "", "details": []}}]
    }

    assert not keep(hooks, "ST201", "POST /sync/push", Response(200, rejected), body)
    assert keep(hooks, "ST201", "POST /sync/push", Response(200, accepted), body)
    assert keep(hooks, "ST201", "POST /sync/push", Response(200, gone), body)
    assert keep(hooks, "ST201", "POST /receipts", Response(200, rejected), body)


RECEIPT = "/receipts/3edaca39-7fe2-4e7f-a422-efaa00a51eed"
DELETE = Failure("ST301", operation="DELETE /receipts/{receiptId}", free=f"DELETE {RECEIPT}")


def call(hooks, method: str, path: str, status: int) -> None:
    hooks.after_call(None, Case(Operation(f"{method} x"), method=method, formatted_path=path), Response(status))


def test_a_receipt_read_after_its_soft_delete_is_dropped_as_its_tombstone_or_once_restored(hooks):
    get = "GET /receipts/{receiptId}"
    tombstone = {"receiptId": RECEIPT[10:], "status": "deleted", "deletedAt": "2026-12-02T05:01:35.894Z"}
    active = {"receiptId": RECEIPT[10:], "status": "active"}
    call(hooks, "DELETE", RECEIPT, 200)

    assert not hooks.filter_failure(None, DELETE, Case(Operation(get)), Response(200, tombstone))
    assert hooks.filter_failure(None, DELETE, Case(Operation(get)), Response(200, active))  # not restored

    call(hooks, "POST", f"{RECEIPT}/restore", 200)

    assert not hooks.filter_failure(None, DELETE, Case(Operation(get)), Response(200, active))

    call(hooks, "DELETE", RECEIPT, 200)  # deleted again, not restored since

    assert hooks.filter_failure(None, DELETE, Case(Operation(get)), Response(200, active))


def test_a_device_or_anything_else_read_after_its_delete_stays_a_failure(hooks):
    device = Failure("ST301", operation="DELETE /user/devices/{deviceId}", free="DELETE /user/devices/d")
    call(hooks, "DELETE", "/user/devices/d", 204)

    assert hooks.filter_failure(
        None, device, Case(Operation("GET /user/settings")), Response(200, {"status": "deleted"})
    )
