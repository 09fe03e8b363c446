"""receipt_vault.rest, the REST resolver that replaced Powertools' event handler (for its import time).

Powertools' `APIGatewayRestResolver` is the contract: every behaviour test runs against both, and
a differential test compares their proxy responses to the same events field for field.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from receipt_vault import rest
from receipt_vault.json_codec import to_json
from tests.support.api_events import api_event, lambda_context

ORIGIN = "https://app.receiptvault.test"
OTHER_ORIGIN = "http://localhost:8080"
ALLOW_HEADERS = "Authorization,Content-Type,X-Amz-Date,X-Amz-Security-Token,X-Api-Key,X-Deletion-Token"


@dataclass
class Impl:
    name: str
    resolver: Any
    cors: Any
    response: Any


def _ours() -> Impl:
    return Impl("ours", rest.RestResolver, rest.CORSConfig, rest.Response)


def _powertools() -> Impl:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response

    return Impl("powertools", APIGatewayRestResolver, CORSConfig, Response)


class TeapotError(LookupError):
    """A LookupError with a handler of its own: the nearest class in the MRO wins."""


class SpoutError(TeapotError):
    pass


def build(impl: Impl, *, cors: bool = True, handlers: bool = True) -> tuple[Any, list[str]]:
    """An app with the features the API uses; the list records the middlewares' calls."""
    config = (
        impl.cors(
            allow_origin=ORIGIN,
            extra_origins=[OTHER_ORIGIN],
            allow_headers=["Content-Type", "X-Deletion-Token"],
            expose_headers=["Retry-After"],
            max_age=3600,
        )
        if cors
        else None
    )
    app = impl.resolver(cors=config, serializer=to_json, strip_prefixes=["/v1"])
    calls: list[str] = []
    response = impl.response

    @app.get("/")
    def root() -> dict[str, str]:
        return {"route": "root"}

    @app.get("/receipts")
    def list_receipts() -> dict[str, Any]:
        calls.append("route")
        return {"items": [], "query": app.current_event.query_string_parameters}

    @app.get("/receipts/duplicates")
    def duplicates() -> dict[str, str]:
        return {"route": "duplicates"}

    @app.get("/receipts/<receiptId>")
    def get_receipt(receiptId: str) -> dict[str, str]:
        return {"receiptId": receiptId}

    @app.delete("/receipts/<receiptId>")
    def delete_receipt(receiptId: str) -> Any:
        return response(status_code=204, content_type="application/json", body="")

    @app.post("/receipts/<receiptId>/duplicates/<otherReceiptId>")
    def resolve_pair(receiptId: str, otherReceiptId: str) -> tuple[dict[str, str], int]:
        return {"receiptId": receiptId, "other": otherReceiptId}, 201

    @app.post("/echo")
    def echo() -> dict[str, Any]:
        event = app.current_event
        return {
            "body": event.body,
            "decoded": event.decoded_body,
            "token": event.headers.get("x-deletion-token"),
            "resource": event.resource,
            "requestId": event.request_context.request_id,
            "sourceIp": event.request_context.identity.source_ip,
            "raw": event.raw_event["httpMethod"],
        }

    @app.get("/binary")
    def binary() -> Any:
        return response(status_code=200, content_type="image/png", body=b"\x89PNG\r\n\x1a\n\x00\xff")

    @app.get("/feed")
    def feed() -> Any:
        return response(
            status_code=200,
            content_type="application/json",
            headers={"Content-Type": "text/calendar", "Link": ["<a>", "<b>"], "ETag": '"v1"'},
            body="BEGIN:VCALENDAR",
        )

    @app.get("/fail/<kind>")
    def fail(kind: str) -> dict[str, str]:
        errors: dict[str, Exception] = {
            "value": ValueError("bad"),
            "key": KeyError("missing"),
            "teapot": TeapotError("short and stout"),
            "spout": SpoutError("pour"),
            "runtime": RuntimeError("boom"),
        }
        raise errors[kind]

    if handlers:

        def answer(status: int, name: str) -> Any:
            return response(status_code=status, content_type="application/json", body=json.dumps({"handler": name}))

        app.exception_handler(ValueError)(lambda _: answer(400, "value"))
        app.exception_handler(LookupError)(lambda _: answer(404, "lookup"))
        app.exception_handler(TeapotError)(lambda _: answer(418, "teapot"))
        app.exception_handler([PermissionError, TimeoutError])(lambda error: answer(403, type(error).__name__))
        app.exception_handler(Exception)(lambda _: answer(500, "exception"))
        app.not_found(lambda _: answer(404, "not found"))

    def first(app_: Any, next_middleware: Callable[..., Any]) -> Any:
        calls.append("first")
        result = next_middleware(app_)
        calls.append(f"first saw {result.status_code}")
        return result

    def second(app_: Any, next_middleware: Callable[..., Any]) -> Any:
        calls.append("second")
        headers = app_.current_event.headers
        if headers.get("X-Block"):
            return response(status_code=429, content_type="application/json", body='{"blocked":true}')
        if headers.get("X-Deny"):
            raise PermissionError("denied")
        return next_middleware(app_)

    app.use(middlewares=[first])
    app.use(middlewares=[second])
    return app, calls


@pytest.fixture(params=["ours", "powertools"])
def impl(request: pytest.FixtureRequest) -> Impl:
    return _ours() if request.param == "ours" else _powertools()


def call(app: Any, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    event = api_event(method, path, user=None, **kwargs)
    return normalized(app.resolve(event, lambda_context()))


def normalized(response: dict[str, Any]) -> dict[str, Any]:
    """Powertools' multiValueHeaders is a defaultdict; the JSON is the same."""
    return json.loads(json.dumps(response))


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response["body"] else None


def header(response: dict[str, Any], name: str) -> str | None:
    values = response["multiValueHeaders"].get(name)
    return ",".join(values) if values is not None else None


# --- routes and path parameters


def test_a_dict_is_serialized_into_the_proxy_response_shape(impl: Impl) -> None:
    app, _ = build(impl)
    response = call(app, "GET", "/receipts", query={"limit": "5"})
    assert set(response) == {"statusCode", "body", "isBase64Encoded", "multiValueHeaders"}  # never `headers`
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert response["body"] == '{"items":[],"query":{"limit":"5"}}'  # the custom serializer's compact JSON
    assert response["multiValueHeaders"] == {"Content-Type": ["application/json"]}  # no Origin: no CORS


def test_path_parameters_are_passed_by_name(impl: Impl) -> None:
    app, _ = build(impl)
    assert body(call(app, "GET", "/receipts/r-1")) == {"receiptId": "r-1"}
    response = call(app, "POST", "/receipts/r-1/duplicates/r-2")
    assert response["statusCode"] == 201  # a (dict, status) tuple
    assert body(response) == {"receiptId": "r-1", "other": "r-2"}


def test_a_static_route_wins_over_a_dynamic_one(impl: Impl) -> None:
    app, _ = build(impl)
    assert body(call(app, "GET", "/receipts/duplicates")) == {"route": "duplicates"}


@pytest.mark.parametrize(
    ("path", "receipt_id"),
    [
        ("/receipts/a%2Fb", "a%2Fb"),  # percent-encoding reaches the route as sent, never decoded
        ("/receipts/caf%C3%A9", "caf%C3%A9"),
        ("/receipts/café", "café"),  # \w is Unicode
        ("/receipts/a b", "a b"),  # API Gateway decodes what is unsafe in a URI
        ("/receipts/x.y~z(1)!*:@,;=+&$", "x.y~z(1)!*:@,;=+&$"),
    ],
)
def test_a_path_parameter_takes_any_segment_character(impl: Impl, path: str, receipt_id: str) -> None:
    app, _ = build(impl)
    assert body(call(app, "GET", path)) == {"receiptId": receipt_id}


@pytest.mark.parametrize("path", ["/receipts/a/b", "/receipts/a?b", "/receipts/a#b", '/receipts/"a"', "/receipts/"])
def test_a_path_parameter_is_one_non_empty_segment(impl: Impl, path: str) -> None:
    app, _ = build(impl)
    response = call(app, "GET", path)
    if path == "/receipts/":  # the trailing slash is ignored: the list
        assert body(response)["items"] == []
    else:
        assert body(response) == {"handler": "not found"}


@pytest.mark.parametrize("path", ["/receipts/", "/receipts//", "/receipts/r1/", "/v1/receipts/r1/"])
def test_trailing_slashes_are_ignored(impl: Impl, path: str) -> None:
    app, _ = build(impl)
    assert call(app, "GET", path)["statusCode"] == 200


def test_an_unknown_method_on_a_known_path_is_not_found_not_405(impl: Impl) -> None:
    app, _ = build(impl)
    for method in ("PUT", "PATCH", "POST"):
        response = call(app, method, "/receipts/r1")
        assert response["statusCode"] == 404
        assert body(response) == {"handler": "not found"}


def test_the_method_is_matched_whatever_its_case(impl: Impl) -> None:
    app, _ = build(impl)
    assert body(call(app, "get", "/receipts/r1")) == {"receiptId": "r1"}


def test_an_unknown_path_goes_to_the_not_found_handler(impl: Impl) -> None:
    app, _ = build(impl)
    response = call(app, "GET", "/nowhere")
    assert (response["statusCode"], body(response)) == (404, {"handler": "not found"})


def test_without_a_not_found_handler_the_default_404(impl: Impl) -> None:
    app, _ = build(impl, handlers=False)
    response = call(app, "GET", "/nowhere")
    assert (response["statusCode"], body(response)) == (404, {"statusCode": 404, "message": "Not found"})
    assert header(response, "Content-Type") == "application/json"


def test_without_a_not_found_handler_an_exception_handler_answers_not_found() -> None:
    """Not found is an exception (Powertools' NotFoundError, our RouteNotFoundError): the
    Exception handler is its handler when no not-found handler is registered."""
    for impl in (_ours(), _powertools()):
        app = impl.resolver()
        app.exception_handler(Exception)(lambda _, r=impl.response: r(status_code=500, body="any"))
        assert app.resolve(api_event("GET", "/nowhere"), lambda_context())["statusCode"] == 500


# --- strip_prefixes


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/receipts/r1", 200),
        ("/v1", 200),  # the prefix alone is /
        ("/v1/", 200),
        ("/v1x/receipts/r1", 404),  # a prefix of a segment is no prefix
        ("/v2/receipts/r1", 404),
        ("/v1/v1/receipts/r1", 404),  # stripped once
    ],
)
def test_the_custom_domains_base_path_is_stripped(impl: Impl, path: str, expected: int) -> None:
    app, _ = build(impl)
    assert call(app, "GET", path)["statusCode"] == expected


# --- CORS


@pytest.mark.parametrize("origin", [ORIGIN, OTHER_ORIGIN])
def test_an_allowed_origin_is_echoed_with_the_cors_headers(impl: Impl, origin: str) -> None:
    app, _ = build(impl)
    response = call(app, "GET", "/receipts", headers={"Origin": origin})
    assert response["multiValueHeaders"] == {
        "Content-Type": ["application/json"],
        "Access-Control-Allow-Origin": [origin],
        "Access-Control-Allow-Headers": [ALLOW_HEADERS],
        "Access-Control-Expose-Headers": ["Retry-After"],
        "Access-Control-Max-Age": ["3600"],
    }


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.test",
        f"{ORIGIN}.evil.test",  # an allowed origin as a prefix
        "https://app.receiptvault.tes",  # a prefix of an allowed origin
        "https://x" + ORIGIN.removeprefix("https://"),  # a suffix
        f"{ORIGIN}/",
        ORIGIN.upper(),
        ORIGIN.replace("https", "http"),
        "null",
        "*",
        "",
    ],
)
def test_another_origin_gets_no_cors_headers(impl: Impl, origin: str) -> None:
    app, _ = build(impl)
    for method, path in (("GET", "/receipts"), ("OPTIONS", "/receipts"), ("GET", "/nowhere")):
        headers = call(app, method, path, headers={"Origin": origin})["multiValueHeaders"]
        assert not [name for name in headers if name.startswith("Access-Control-Allow-O")]
        assert "Access-Control-Allow-Headers" not in headers
        assert "Vary" not in headers  # Powertools never added one


def test_the_origin_header_is_found_whatever_its_case(impl: Impl) -> None:
    app, _ = build(impl)
    response = call(app, "GET", "/receipts", headers={"origin": ORIGIN})
    assert header(response, "Access-Control-Allow-Origin") == ORIGIN


def test_error_and_not_found_responses_carry_cors_headers_too(impl: Impl) -> None:
    app, _ = build(impl)
    for path in ("/fail/runtime", "/nowhere"):
        response = call(app, "GET", path, headers={"Origin": ORIGIN})
        assert header(response, "Access-Control-Allow-Origin") == ORIGIN
        assert header(response, "Access-Control-Expose-Headers") == "Retry-After"


@pytest.mark.parametrize("path", ["/receipts/r1", "/nowhere", "/v1/receipts"])
def test_a_preflight_is_answered_204_with_every_routes_methods(impl: Impl, path: str) -> None:
    app, calls = build(impl)
    response = call(app, "OPTIONS", path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"})
    assert response["statusCode"] == 204
    assert response["body"] == ""
    assert response["isBase64Encoded"] is False
    assert response["multiValueHeaders"] == {
        "Access-Control-Allow-Methods": ["DELETE,GET,OPTIONS,POST"],  # every route's, not the path's
        "Access-Control-Allow-Origin": [ORIGIN],
        "Access-Control-Allow-Headers": [ALLOW_HEADERS],
        "Access-Control-Expose-Headers": ["Retry-After"],
        "Access-Control-Max-Age": ["3600"],
    }
    assert calls[:2] == ["first", "second"]  # a preflight passes the middlewares too


def test_a_preflight_from_another_origin_has_only_the_methods(impl: Impl) -> None:
    app, _ = build(impl)
    response = call(app, "OPTIONS", "/receipts", headers={"Origin": "https://evil.test"})
    assert response["statusCode"] == 204
    assert response["multiValueHeaders"] == {"Access-Control-Allow-Methods": ["DELETE,GET,OPTIONS,POST"]}


def test_without_cors_there_is_no_preflight_and_no_cors_headers(impl: Impl) -> None:
    app, _ = build(impl, cors=False)
    assert call(app, "OPTIONS", "/receipts", headers={"Origin": ORIGIN})["statusCode"] == 404
    headers = call(app, "GET", "/receipts", headers={"Origin": ORIGIN})["multiValueHeaders"]
    assert headers == {"Content-Type": ["application/json"]}


def test_a_wildcard_origin_allows_any_as_star(impl: Impl) -> None:
    app = impl.resolver(cors=impl.cors())
    app.get("/x")(lambda: {})
    response = normalized(app.resolve(api_event("GET", "/x", headers={"Origin": "https://a.test"}), lambda_context()))
    assert header(response, "Access-Control-Allow-Origin") == "*"
    response = normalized(app.resolve(api_event("GET", "/x"), lambda_context()))
    assert header(response, "Access-Control-Allow-Origin") is None  # no Origin, no CORS


# --- exception handlers


@pytest.mark.parametrize(
    ("kind", "status", "handler"),
    [
        ("value", 400, "value"),
        ("key", 404, "lookup"),  # KeyError -> LookupError
        ("teapot", 418, "teapot"),  # its own class before its base's
        ("spout", 418, "teapot"),  # the nearest registered class in the MRO
        ("runtime", 500, "exception"),  # the catch-all
    ],
)
def test_an_exceptions_handler_is_the_nearest_in_its_mro(impl: Impl, kind: str, status: int, handler: str) -> None:
    app, _ = build(impl)
    response = call(app, "GET", f"/fail/{kind}")
    assert (response["statusCode"], body(response)) == (status, {"handler": handler})


def test_one_handler_for_a_list_of_classes(impl: Impl) -> None:
    app, _ = build(impl)
    response = call(app, "GET", "/receipts", headers={"X-Deny": "1"})
    assert body(response) == {"handler": "PermissionError"}


def test_an_unhandled_exception_propagates(impl: Impl) -> None:
    app, _ = build(impl, handlers=False)
    with pytest.raises(RuntimeError, match="boom"):
        call(app, "GET", "/fail/runtime")


# --- middlewares


def test_middlewares_run_in_the_order_added_around_the_route(impl: Impl) -> None:
    app, calls = build(impl)
    call(app, "GET", "/receipts")
    assert calls == ["first", "second", "route", "first saw 200"]


def test_a_middleware_may_answer_without_the_route(impl: Impl) -> None:
    app, calls = build(impl)
    response = call(app, "GET", "/receipts", headers={"X-Block": "1"})
    assert (response["statusCode"], body(response)) == (429, {"blocked": True})
    assert calls == ["first", "second", "first saw 429"]


def test_a_middleware_that_raises_goes_to_the_exception_handlers(impl: Impl) -> None:
    app, calls = build(impl)
    response = call(app, "GET", "/receipts", headers={"X-Deny": "1", "Origin": ORIGIN})
    assert response["statusCode"] == 403
    assert header(response, "Access-Control-Allow-Origin") == ORIGIN
    assert "route" not in calls


def test_middlewares_run_for_an_unknown_route_too(impl: Impl) -> None:
    app, calls = build(impl)
    assert call(app, "GET", "/nowhere")["statusCode"] == 404
    assert calls == ["first", "second", "first saw 404"]


# --- request and response bodies


def test_the_event_is_read_through_the_current_event(impl: Impl) -> None:
    app, _ = build(impl)
    response = call(app, "POST", "/echo", body={"a": 1}, headers={"X-DELETION-TOKEN": "t-1"})
    answer = body(response)
    assert answer["body"] == answer["decoded"] == '{"a": 1}'
    assert answer["token"] == "t-1"  # headers, whatever the name's case
    assert (answer["resource"], answer["sourceIp"], answer["raw"]) == ("/echo", "198.51.100.7", "POST")
    assert answer["requestId"]


def test_a_base64_body_is_kept_as_sent_and_decoded_on_demand(impl: Impl) -> None:
    app, _ = build(impl)
    event = api_event("POST", "/echo", user=None, body=base64.b64encode('{"naïve": true}'.encode()).decode())
    event["isBase64Encoded"] = True
    answer = json.loads(app.resolve(event, lambda_context())["body"])
    assert answer["body"] == base64.b64encode('{"naïve": true}'.encode()).decode()  # `body` is as sent
    assert answer["decoded"] == '{"naïve": true}'


def test_a_body_that_is_not_utf8_is_a_value_error(impl: Impl) -> None:
    app, _ = build(impl)
    event = api_event("POST", "/echo", user=None, body=base64.b64encode(b"\xff\xfe{").decode())
    event["isBase64Encoded"] = True
    response = app.resolve(event, lambda_context())
    assert (response["statusCode"], json.loads(response["body"])) == (400, {"handler": "value"})  # UnicodeDecodeError


def test_the_bytes_of_a_body() -> None:
    event = rest.ProxyEvent({"body": base64.b64encode(b"\xff\x00").decode(), "isBase64Encoded": True})
    assert event.decoded_bytes == b"\xff\x00"
    assert rest.ProxyEvent({"body": "é"}).decoded_bytes == "é".encode()
    assert rest.ProxyEvent({"body": None}).decoded_bytes == b""


def test_a_bytes_body_leaves_base64_encoded(impl: Impl) -> None:
    app, _ = build(impl)
    response = call(app, "GET", "/binary")
    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == b"\x89PNG\r\n\x1a\n\x00\xff"
    assert header(response, "Content-Type") == "image/png"


def test_response_headers_and_their_content_type(impl: Impl) -> None:
    app, _ = build(impl)
    response = call(app, "GET", "/feed")
    assert response["body"] == "BEGIN:VCALENDAR"  # a string body is never serialized again
    assert response["multiValueHeaders"] == {
        "Content-Type": ["text/calendar"],  # headers' Content-Type wins over content_type
        "Link": ["<a>", "<b>"],
        "ETag": ['"v1"'],
    }


def test_a_204_keeps_its_empty_body(impl: Impl) -> None:
    app, _ = build(impl)
    response = call(app, "DELETE", "/receipts/r1")
    assert (response["statusCode"], response["body"]) == (204, "")


def test_a_response_without_content_type_is_not_json() -> None:
    assert not rest.Response(status_code=304, headers={"ETag": "x"}, body="").is_json()
    assert rest.Response(status_code=200, content_type="application/json; charset=utf-8").is_json()


def test_request_headers_are_case_insensitive() -> None:
    headers = rest.Headers({"X-Deletion-Token": "t", "Host": "h"})
    assert headers.get("x-deletion-token") == headers["X-DELETION-TOKEN"] == "t"
    assert "host" in headers and "Origin" not in headers
    assert headers.get("Origin") is None
    assert headers == {"x-deletion-token": "t", "HOST": "h"}
    assert rest.Headers(None) == {}


def test_the_current_event_and_context_stay_the_last_requests() -> None:
    app = rest.RestResolver()
    app.get("/x")(lambda: {})
    context = lambda_context()
    app.resolve(api_event("GET", "/x"), context)
    assert app.current_event.path == "/x"
    assert app.lambda_context is context


# --- the contract: the same response as Powertools', event for event

DIFFERENTIAL_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/", {}),
    ("GET", "/receipts", {"query": {"a": "1"}}),
    ("GET", "/receipts", {"headers": {"Origin": ORIGIN}}),
    ("GET", "/receipts", {"headers": {"Origin": OTHER_ORIGIN, "X-Block": "1"}}),
    ("GET", "/receipts", {"headers": {"Origin": "https://evil.test", "X-Deny": "1"}}),
    ("GET", "/receipts/", {}),
    ("GET", "/receipts/duplicates", {}),
    ("GET", "/receipts/a%2Fb", {"headers": {"Origin": ORIGIN}}),
    ("GET", "/receipts/a/b", {}),
    ("DELETE", "/receipts/r1", {"headers": {"Origin": ORIGIN}}),
    ("PUT", "/receipts/r1", {"headers": {"Origin": ORIGIN}}),
    ("POST", "/receipts/r1/duplicates/r2", {}),
    ("OPTIONS", "/receipts/r1", {"headers": {"Origin": ORIGIN}}),
    ("OPTIONS", "/anything", {"headers": {"Origin": "https://evil.test"}}),
    ("POST", "/echo", {"body": "not json", "headers": {"x-deletion-token": "t"}}),
    ("GET", "/binary", {"headers": {"Origin": ORIGIN}}),
    ("GET", "/feed", {}),
    ("GET", "/v1", {}),
    ("GET", "/v1/receipts/r1/", {}),
    ("GET", "/v1x/receipts", {}),
    ("GET", "/fail/value", {"headers": {"Origin": ORIGIN}}),
    ("GET", "/fail/spout", {}),
    ("GET", "/fail/runtime", {}),
    ("GET", "/nowhere", {"headers": {"Origin": OTHER_ORIGIN}}),
]


@pytest.mark.parametrize(("method", "path", "extra"), DIFFERENTIAL_REQUESTS)
@pytest.mark.parametrize("cors", [True, False])
def test_the_same_proxy_response_as_powertools(method: str, path: str, extra: dict[str, Any], cors: bool) -> None:
    ours, our_calls = build(_ours(), cors=cors)
    theirs, their_calls = build(_powertools(), cors=cors)
    event = api_event(method, path, user=None, **extra)
    assert call_with(ours, event) == call_with(theirs, event)
    assert our_calls == their_calls


def call_with(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    return normalized(app.resolve(json.loads(json.dumps(event)), lambda_context()))
