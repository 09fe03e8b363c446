"""The local gateway on its own: routing, the proxy event, mocks, gateway errors, validation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local.auth import TokenRejectedError
from local.cfn_template import OPENAPI_PATH, load_yaml
from local.gateway import HTTP_METHODS, Gateway

RECEIPT_ID = "0b7e7f5a-93b5-4a4c-9c43-0ac2c2d0d0a1"
ORIGIN = "http://localhost:3000"


def _resolve(value: Any) -> Any:
    """Stands in for the provisioner: intrinsics become strings a test can recognise."""
    if isinstance(value, list):
        return [_resolve(item) for item in value]
    if isinstance(value, dict):
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], list):  # the CORS origin
            return f"'{ORIGIN}'"
        if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
            return "resolved"
        return {key: _resolve(item) for key, item in value.items()}
    return value


class FakeAuthorizer:
    def claims(self, authorization: str | None, required_scopes: frozenset[str]) -> dict[str, str]:
        if authorization != "Bearer good" or not required_scopes:
            raise TokenRejectedError("Unauthorized")
        return {"sub": "user-1", "token_use": "access", "client_id": "client"}


class Recorder:
    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.result = result if result is not None else {"statusCode": 200, "headers": {"X-Test": "1"}, "body": "{}"}
        self.error = error

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        self.calls.append((function, event))
        if self.error:
            raise self.error
        return self.result


def gateway(invoke: Recorder, log: list[dict[str, Any]] | None = None) -> Gateway:
    lines = log if log is not None else []
    return Gateway(load_yaml(OPENAPI_PATH), _resolve, FakeAuthorizer(), invoke, "dev", lines.append)


def test_a_route_reaches_its_function_with_a_rest_proxy_event():
    invoke = Recorder()

    response = gateway(invoke).handle(
        "GET", f"/receipts/{RECEIPT_ID}?x=1&x=2", {"Authorization": "Bearer good", "Origin": ORIGIN}, b"", "10.1.2.3"
    )

    assert response.status == 200 and response.function == "ReceiptCrudFunction"
    [(function, event)] = invoke.calls
    assert function == "ReceiptCrudFunction"
    assert event["resource"] == "/receipts/{receiptId}" and event["path"] == f"/receipts/{RECEIPT_ID}"
    assert event["pathParameters"] == {"receiptId": RECEIPT_ID}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    context = event["requestContext"]
    assert context["stage"] == "dev" and context["requestId"]
    assert context["identity"]["sourceIp"] == "10.1.2.3"
    assert context["authorizer"]["claims"]["sub"] == "user-1"
    assert ("x-amzn-RequestId", context["requestId"]) in response.headers


def test_a_literal_segment_wins_over_a_parameter_as_in_api_gateway():
    invoke = Recorder()

    for path in ("/receipts/duplicates", f"/receipts/{RECEIPT_ID}"):
        gateway(invoke).handle("GET", path, {"Authorization": "Bearer good"}, b"", "::1")

    assert [event["resource"] for _, event in invoke.calls] == ["/receipts/duplicates", "/receipts/{receiptId}"]
    assert invoke.calls[0][1]["pathParameters"] is None


def test_health_needs_no_authorizer():
    invoke = Recorder()

    response = gateway(invoke).handle("GET", "/health", {}, b"", "127.0.0.1")

    assert response.status == 200
    assert "authorizer" not in invoke.calls[0][1]["requestContext"]


def test_a_rejected_token_never_reaches_the_function():
    invoke = Recorder()

    response = gateway(invoke).handle("GET", "/receipts", {"Authorization": "Bearer bad"}, b"", "127.0.0.1")

    assert response.status == 401 and invoke.calls == []
    body = json.loads(response.body)
    assert body["error"] == "UNAUTHORIZED" and body["requestId"]
    assert ("Access-Control-Allow-Origin", ORIGIN) in response.headers


@pytest.mark.parametrize(
    "body",
    [
        b'{"totalAmount": 1}',
        b'{"unknown": true}',
        b'{"items": [{"quantity": 1}]}',
        b"[]",
        b"{bad json",
        b"",
        b'{"notes": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # deeper than any parser goes
        b'{"tags": ' + b"[" * 900 + b"]" * 900 + b"}",  # parsed, but too deep to validate
    ],
    ids=["type", "unknown", "item", "array", "malformed", "empty", "nested-5000", "nested-900"],
)
def test_a_body_that_breaks_the_model_is_400_with_details(body):
    invoke = Recorder()

    response = gateway(invoke).handle("POST", "/receipts", {"Authorization": "Bearer good"}, body, "127.0.0.1")

    assert response.status == 400 and invoke.calls == []
    payload = json.loads(response.body)
    assert payload["error"] == "VALIDATION_ERROR" and payload["details"]


def test_a_valid_body_passes_the_model():
    invoke = Recorder()
    body = json.dumps({"storeName": "Lidl", "items": [{"description": "Milk", "unitPrice": "1.09"}]}).encode()

    assert gateway(invoke).handle("POST", "/receipts", {"Authorization": "Bearer good"}, body, "::1").status == 200


@pytest.mark.parametrize("method", ["GET", "POST", "TRACE"])
def test_an_unknown_path_is_the_404_gateway_response_whatever_the_method(method):
    invoke = Recorder()

    response = gateway(invoke).handle(method, "/nope", {}, b"", "::1")

    assert response.status == 404 and json.loads(response.body)["error"] == "NOT_FOUND"
    assert invoke.calls == []


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/health", "GET,OPTIONS"),
        ("PATCH", "/categories", "GET,PUT,OPTIONS"),
        ("QUERY", "/sync/pull", "POST,OPTIONS"),
        ("HEAD", f"/receipts/{RECEIPT_ID}", "GET,PUT,DELETE,OPTIONS"),
        ("POST", f"/user/devices/{RECEIPT_ID}", "DELETE,OPTIONS"),
        ("GET", "/receipts/not-a-uuid/restore", "POST,OPTIONS"),
        # A literal segment is its own resource, before /receipts/{receiptId}'s methods.
        ("PUT", "/receipts/duplicates", "GET,OPTIONS"),
        ("DELETE", "/receipts/duplicates", "GET,OPTIONS"),
    ],
)
def test_a_method_the_path_does_not_declare_is_the_any_methods_405_without_a_token(method, path, allow):
    invoke = Recorder()

    response = gateway(invoke).handle(method, path, {}, b"{}", "::1")

    headers = dict(response.headers)
    body = json.loads(response.body)
    assert response.status == 405 and invoke.calls == []
    assert headers["Allow"] == allow and headers["Content-Type"] == "application/json"
    assert headers["Access-Control-Allow-Origin"] == ORIGIN and headers["Cache-Control"] == "no-store"
    assert body == {
        "error": "METHOD_NOT_ALLOWED",
        "message": "This path does not have that method: Allow names those it has",
        "requestId": headers["x-amzn-RequestId"],
        "details": [],
    }


def test_every_paths_405_names_exactly_the_methods_it_declares():
    document = load_yaml(OPENAPI_PATH)
    local = gateway(Recorder())

    for path, operations in document["paths"].items():
        declared = {method.upper() for method in operations if method in HTTP_METHODS}
        concrete = re.sub(r"\{\w+\}", RECEIPT_ID, path)
        response = local.handle("TRACE", concrete, {}, b"", "::1")
        assert response.status == 405, path
        assert set(dict(response.headers)["Allow"].split(",")) == declared, path


@pytest.mark.parametrize(
    "path",
    ["/receipts/%C2%84", "/user/devices/not-a-uuid", "/receipts/x/images/y/download-url", "/user/export/-"],
)
def test_a_preflight_is_answered_for_any_segment_as_its_mock_looks_nothing_up(path):
    response = gateway(Recorder()).handle("OPTIONS", path, {}, b"", "::1")

    assert response.status == 204 and dict(response.headers)["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize("path", ["/sync/pull", "/sync/full", "/user/export"])
def test_an_absent_optional_body_reaches_the_function_and_a_json_null_breaks_the_model(path):
    invoke = Recorder()
    local = gateway(invoke)

    absent = local.handle("POST", path, {"Authorization": "Bearer good"}, b"", "::1")
    null = local.handle("POST", path, {"Authorization": "Bearer good"}, b"null", "::1")

    assert absent.status == 200 and len(invoke.calls) == 1 and invoke.calls[0][1]["body"] is None
    assert null.status == 400 and json.loads(null.body)["error"] == "VALIDATION_ERROR" and len(invoke.calls) == 1


# Values at the edges of the contract's calendars and text classes: API Gateway's model (here, the
# local gateway's check of api/openapi.yaml) and the function's model must give the same verdict.
EDGES = [
    *({"purchaseDate": date} for date in ("1900-01-01", "2199-12-31", "2000-02-29", "2024-02-29")),
    *({"purchaseDate": date} for date in ("1899-12-31", "2200-01-01", "1900-02-29", "2100-02-29", "2023-02-29")),
    *({"purchaseDate": date} for date in ("2024-04-31", "2024-13-01", "2024-00-10", "0000-00-00", "2024-2-01")),
    *({"warrantyExpiryDate": date} for date in ("2249-12-31", "2248-02-29", "2250-01-01", "2200-02-29")),
    *({"category": text} for text in ("Food", " Food ", "a" * 50, " " + "a" * 50, "", " ", "\u00a0", "\u3000")),
    *({"category": text} for text in ("\u2003x\u2003", "x\ty", "x\u2028", "x\x85", "\u202egpj.exe", "\U0001f9fe")),
    *({"notes": text} for text in ("two\nlines\ttabbed\r", "", "\x07", "\x7f", "\ufeff", "\u2066", "\uffff")),
    *({"storeName": text} for text in ("Lidl", "\u0644\u064a\u062f\u0644", "\u200dzwj", "\x1c", " \n ")),
    {"items": [{"description": "\u00a0"}]},
    {"items": [{"description": " Milk "}]},
    {"tags": ["ok", "\u2009"]},
]


@pytest.mark.parametrize("fields", EDGES, ids=[json.dumps(fields, ensure_ascii=True)[:60] for fields in EDGES])
def test_the_gateways_model_and_the_functions_agree_at_the_edges(fields):
    from receipt_vault.receipts.models import ReceiptCreate

    body = json.dumps(fields).encode()
    try:
        ReceiptCreate.model_validate_json(body, strict=True)
        function_accepts = True
    except ValueError:
        function_accepts = False

    response = gateway(Recorder()).handle("POST", "/receipts", {"Authorization": "Bearer good"}, body, "::1")

    assert (response.status == 200) == function_accepts, response.body


def test_a_preflight_is_answered_by_the_mock_integration():
    response = gateway(Recorder()).handle("OPTIONS", "/categories", {}, b"", "::1")

    headers = dict(response.headers)
    assert response.status == 204
    assert headers["Access-Control-Allow-Origin"] == ORIGIN and headers["Access-Control-Max-Age"] == "3600"


def test_a_crashing_or_malformed_function_is_a_502_in_the_standard_shape():
    crashed = gateway(Recorder(error=RuntimeError("boom"))).handle("GET", "/health", {}, b"", "::1")
    malformed = gateway(Recorder(result={"body": "no status"})).handle("GET", "/health", {}, b"", "::1")

    for response in (crashed, malformed):
        assert response.status == 502
        assert json.loads(response.body)["error"] == "INTERNAL_ERROR"
        assert b"boom" not in response.body


def test_a_throttled_function_is_the_integration_failure_response_a_429_to_retry():
    from local.runtime import TooManyRequestsError

    throttled = gateway(Recorder(error=TooManyRequestsError("receiptvault-health-dev"))).handle(
        "GET", "/health", {"Origin": ORIGIN}, b"", "::1"
    )

    headers = dict(throttled.headers)
    assert throttled.status == 429 and headers["Retry-After"] == "1"
    assert json.loads(throttled.body)["error"] == "RATE_LIMITED" and json.loads(throttled.body)["requestId"]
    assert headers["Access-Control-Allow-Origin"] == ORIGIN and headers["Cache-Control"] == "no-store"


def test_a_validation_answer_names_the_rule_never_the_refused_value():
    hostile = "\u202eX\x00" + "Z" * 100_000
    response = gateway(Recorder()).handle(
        "POST", "/receipts", {"Authorization": "Bearer good"}, json.dumps({"purchaseDate": hostile}).encode(), "::1"
    )

    assert response.status == 400 and len(response.body) < 1000
    assert "Z" * 20 not in response.body.decode() and "\\u202e" not in response.body.decode()


def test_a_body_over_10_mib_is_413():
    response = gateway(Recorder()).handle(
        "POST", "/receipts", {"Authorization": "Bearer good"}, b"x" * (10 * 1024 * 1024 + 1), "::1"
    )

    assert response.status == 413 and json.loads(response.body)["error"] == "PAYLOAD_TOO_LARGE"


def test_multi_value_headers_and_base64_bodies_come_back_intact():
    result = {
        "statusCode": 201,
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": "aGk=",
        "isBase64Encoded": True,
    }

    response = gateway(Recorder(result=result)).handle("GET", "/health", {}, b"", "::1")

    assert response.status == 201 and response.body == b"hi"
    assert [value for name, value in response.headers if name == "Set-Cookie"] == ["a=1", "b=2"]


def test_each_request_is_logged_with_function_status_and_duration():
    lines: list[dict[str, Any]] = []

    gateway(Recorder(), lines).handle("GET", "/health", {}, b"", "::1")

    [line] = lines
    assert line["function"] == "HealthFunction" and line["status"] == 200 and line["ms"] >= 0
