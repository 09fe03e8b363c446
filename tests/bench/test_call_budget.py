"""The AWS calls of every API operation stay within tests/bench/call_budget.json.

bench/calls_per_operation.py drives every route of api/openapi.yaml once, in process against moto,
and counts each AWS call by service and operation (botocore's event hooks). A route that makes
more calls of any operation than its budget records fails here, and so does a route of the
contract without a budget, or a budget of a route that no longer exists. A push of n items is
held to its recorded formula, fixed + per item × n, at two sizes.

A lower count is welcome: record it with `python bench/calls_per_operation.py --write-budget`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from bench import calls_per_operation as measurement

BUDGET = json.loads(measurement.BUDGET_PATH.read_text())


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    saved = dict(os.environ)  # the measurement configures the process as a benchmark's
    try:
        return measurement.run(capacity=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _over(calls: dict[str, dict[str, int]], budget: dict[str, dict[str, float]]) -> list[str]:
    return [
        f"{service} {operation}: {count} > {budget.get(service, {}).get(operation, 0):g}"
        for service, operations in calls.items()
        for operation, count in operations.items()
        if count > budget.get(service, {}).get(operation, 0)
    ]


def test_every_route_of_the_contract_has_a_scenario_and_a_budget():
    routes = set(measurement.contract_routes())
    assert routes == {scenario.route for scenario in measurement.SCENARIOS}
    assert routes == set(BUDGET["routes"]), "a route without a budget, or a budget without a route"


def test_no_route_makes_more_calls_than_its_budget(measured):
    over = {row["route"]: _over(row["calls"], BUDGET["routes"][row["route"]]) for row in measured["routes"]}
    assert not {route: problems for route, problems in over.items() if problems}


RECEIPT_OPERATIONS = (
    "GET /receipts",
    "GET /receipts/{receiptId}",
    "POST /receipts",
    "PUT /receipts/{receiptId}",
    "PATCH /receipts/{receiptId}/status",
    "DELETE /receipts/{receiptId}",
)


def test_the_receipt_operations_are_one_dynamodb_call_besides_the_erasure_check(measured):
    """The issue's minimum, where it is met: the erasure check (one GetItem of every API
    request, receipt_vault/erasure.py) and one call of the receipts domain. Duplicate detection
    follows from the table's stream (duplicate-checker), not on the request's path."""
    rows = {row["route"]: row for row in measured["routes"]}
    for route in RECEIPT_OPERATIONS:
        dynamo = dict(rows[route]["dynamodb"])
        assert dynamo.pop("GetItem (erasure check)") == 1, route
        assert sum(dynamo.values()) == 1, (route, dynamo)


def test_a_restore_is_one_write_unless_the_warranty_is_live(measured):
    """The restore assumes the warranty has ended; a live one (the scenario's) takes a second,
    conditional write that rejoins the warranty indexes."""
    dynamo = dict({row["route"]: row for row in measured["routes"]}["POST /receipts/{receiptId}/restore"]["dynamodb"])
    assert dynamo.pop("GetItem (erasure check)") == 1
    assert dynamo == {"UpdateItem": 2}


@pytest.mark.parametrize("kind", sorted(BUDGET["push"]))
def test_a_push_of_n_items_stays_within_its_formula(measured, kind):
    formula = BUDGET["push"][kind]
    pushes = [push for push in measured["push"] if push["kind"] == kind]
    assert sorted(push["items"] for push in pushes) == sorted(measurement.PUSH_SIZES)
    for push in pushes:
        n = push["items"]
        services = {*formula["fixed"], *formula["per_item"]}
        allowed = {
            service: {
                operation: formula["fixed"].get(service, {}).get(operation, 0)
                + formula["per_item"].get(service, {}).get(operation, 0) * n
                for operation in {*formula["fixed"].get(service, {}), *formula["per_item"].get(service, {})}
            }
            for service in services
        }
        assert not _over(push["calls"], allowed), (n, push["calls"])
        assert push["calls"]["DynamoDB"].get("BatchGetItem", 0) <= 1


def test_a_push_is_one_batch_get_and_one_conditional_write_per_item(measured):
    for push in measured["push"]:
        dynamo = dict(push["dynamodb"])
        assert dynamo.pop("GetItem (erasure check)") == 1
        write = "UpdateItem" if push["kind"] == "edits" else "PutItem"
        assert dynamo == {"BatchGetItem": 1, write: push["items"]}, push
