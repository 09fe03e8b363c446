"""The captured events under events/ stay usable: replayed in order, each gives its expected status.

They are the same files a developer passes to `sam local invoke -e`.
"""

from __future__ import annotations

import json

import pytest

from local.cfn_template import PROJECT_ROOT
from tests.conftest import load_function
from tests.support.api_events import LambdaContext

EVENTS = PROJECT_ROOT / "events"

# The order matters: the receipt events share one receipt and follow its life.
API_SCENARIOS = {
    "receipt_crud": [
        ("create_receipt", 201),
        ("create_receipt", 200),  # idempotent retry
        ("create_receipt_invalid", 400),
        ("get_receipt", 200),
        ("get_receipt_of_another_user", 404),
        ("list_receipts", 200),
        ("list_receipts_by_category", 200),
        ("list_receipts_invalid_token", 400),
        ("update_receipt", 200),
        ("update_receipt_stale_version", 409),
        ("change_status_returned", 200),
        ("delete_receipt", 200),
        ("restore_receipt", 200),
    ],
    "category_handler": [
        ("get_categories", 200),
        ("put_categories", 200),
        ("put_categories_stale_version", 409),
        ("put_categories_duplicate", 400),
    ],
    "health": [("get_health", 200)],
}


def test_every_captured_api_event_is_part_of_a_scenario():
    covered = {f"{function}/{case}.json" for function, cases in API_SCENARIOS.items() for case, _ in cases}
    on_disk = {
        str(path.relative_to(EVENTS)) for path in EVENTS.glob("*/*.json") if "requestContext" in path.read_text()
    }

    assert on_disk == covered


@pytest.mark.parametrize("function", sorted(API_SCENARIOS))
def test_captured_api_events_replay_with_their_expected_status(api_env, function):
    module = load_function(function)
    for case, expected in API_SCENARIOS[function]:
        event = json.loads((EVENTS / function / f"{case}.json").read_text())
        response = module.lambda_handler(event, LambdaContext())
        assert response["statusCode"] == expected, (case, response["body"])


def test_api_events_carry_cognito_claims_except_health():
    for path in EVENTS.glob("*/*.json"):
        event = json.loads(path.read_text())
        if "requestContext" not in event or path.parent.name == "health":
            continue
        claims = event["requestContext"]["authorizer"]["claims"]
        assert claims["token_use"] == "access" and claims["sub"], path


def test_captured_custom_resource_events_are_valid_requests():
    for path in (EVENTS / "platform_application").glob("*.json"):
        event = json.loads(path.read_text())
        assert event["RequestType"] in {"Create", "Update", "Delete"}
        assert {
            "ResponseURL",
            "StackId",
            "RequestId",
            "LogicalResourceId",
            "ResourceProperties",
        } <= event.keys()
