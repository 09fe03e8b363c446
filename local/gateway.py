"""The local API Gateway: the REST API of api/openapi.yaml in front of the in-process functions.

As API Gateway does, it routes by the OpenAPI document's paths and integrations, enforces the
Cognito authorizer, applies each method's request validator (required parameters, the body
against its model), answers preflights and undeclared methods (a path's ANY method: 405) from the
mock integrations, shapes its own errors with the gateway responses, and hands the function a
REST proxy event. It logs one JSON line per request: function, status, milliseconds.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT4

from local.auth import CognitoAuthorizer, TokenRejectedError
from local.cfn_template import Template, TemplateNode, integrated_function
from local.clock import utc_now
from local.runtime import TooManyRequestsError
from local.throttle import StageThrottle
from local.waf import WebAclRules
from receipt_vault.shapes import JsonObject, JsonValue

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head"}
# A path's catch-all method: API Gateway routes to it every method the path does not declare.
ANY_METHOD = "x-amazon-apigateway-any-method"
REQUEST_VALIDATOR = "x-amazon-apigateway-request-validator"  # the API's default, or a method's own
_OPENAPI_URI = "urn:receiptvault:openapi"


@dataclass
class Route:
    path: str
    method: str
    operation: Template
    function: str | None  # None: a mock integration (CORS preflight)
    pattern: re.Pattern[str]

    @property
    def secured(self) -> bool:
        return bool(self.operation.get("security"))

    @property
    def required_scopes(self) -> frozenset[str]:
        """The OAuth scopes the method names; API Gateway accepts a token holding any one."""
        schemes = self.operation.get("security", [])
        return frozenset(scope for scheme in schemes for scopes in scheme.values() for scope in scopes)


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    function: str | None = None


def _sent_name(parameter: JsonObject) -> str:
    return str(parameter["name"]).lower() if parameter.get("in") == "header" else str(parameter["name"])


def _rule_broken(error: ValidationError) -> str:
    """Which rule of the model a value breaks, in the model's words and never the value's: an
    answer that quoted what it refuses would reflect megabytes, or a control character, back."""
    rule, expected = error.validator, error.validator_value
    if rule == "required":
        return error.message  # names the model's own property
    if rule == "additionalProperties":
        return "holds a property the model does not declare"
    if rule == "enum":
        return "is not one of the allowed values"
    if rule in ("type", "pattern", "format"):
        return f"must match {rule} {json.dumps(expected)}"
    if isinstance(expected, (int, float, str, bool)):
        return f"breaks {rule} {json.dumps(expected)}"
    return f"breaks {rule}"


def _literal_segments(path: str) -> tuple[bool, ...]:
    """Orders the resources matching one path: literal segments, from the left, win."""
    return tuple(not segment.startswith("{") for segment in path.split("/"))


def _path_pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


class Gateway:
    def __init__(
        self,
        openapi: Template,
        resolve: Callable[[TemplateNode], TemplateNode],
        authorizer: CognitoAuthorizer,
        invoke: Callable[[str, JsonObject], JsonValue],
        stage: str,
        log: Callable[[JsonObject], None],
        waf: WebAclRules | None = None,
        throttle: StageThrottle | None = None,
    ) -> None:
        self.waf = waf or WebAclRules([])
        self.throttle = throttle
        self.authorizer = authorizer
        self.invoke = invoke
        self.stage = stage
        self.log = log
        self.gateway_responses = resolve(openapi.get("x-amazon-apigateway-gateway-responses", {}))
        self.request_validators: dict[str, dict[str, bool]] = openapi.get("x-amazon-apigateway-request-validators", {})
        self.default_validator: str | None = openapi.get(REQUEST_VALIDATOR)
        self.routes: list[Route] = []
        for path, operations in openapi["paths"].items():
            for method, operation in operations.items():
                if method not in HTTP_METHODS and method != ANY_METHOD:
                    continue  # path-level `parameters`, `summary`, ...
                self.routes.append(
                    Route(
                        path,
                        "ANY" if method == ANY_METHOD else method.upper(),
                        resolve(operation),
                        integrated_function(operation),
                        _path_pattern(path),
                    )
                )
        document = {key: value for key, value in openapi.items() if key == "components"}
        self._registry = Registry().with_resource(_OPENAPI_URI, DRAFT4.create_resource(document))

    # -- dispatch ------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str) -> HttpResponse:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        response = self._dispatch(method, raw_path, headers, body, source_ip, request_id)
        response.headers.append(("x-amzn-RequestId", request_id))
        self.log(
            {
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "requestId": request_id,
                "method": method,
                "path": urlsplit(raw_path).path,
                "function": response.function,
                "status": response.status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
        return response

    def _dispatch(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str],
        body: bytes,
        source_ip: str,
        request_id: str,
    ) -> HttpResponse:
        blocked = self.waf.check(headers, source_ip)  # WAF sits in front of the stage
        if blocked is not None and blocked.response is not None:
            return HttpResponse(blocked.response.status, list(blocked.response.headers), blocked.response.body)
        if blocked is not None:
            return self._gateway_error("WAF_FILTERED", request_id, "Forbidden", status=403)
        url = urlsplit(raw_path)
        route, path_parameters = self._match(method, url.path)
        if route is None:
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN", request_id, "Missing Authentication Token")
        if self.throttle is not None and not self.throttle.allow(route.method, route.path):
            return self._gateway_error("THROTTLED", request_id, "Too Many Requests", status=429)
        if route.function is None:
            return self._mock(route, request_id)
        if len(body) > MAX_BODY_BYTES:
            return self._gateway_error("REQUEST_TOO_LARGE", request_id, "Request Too Long")
        claims = None
        if route.secured:
            try:
                claims = self.authorizer.claims(_header(headers, "Authorization"), route.required_scopes)
            except TokenRejectedError as rejection:
                return self._gateway_error("UNAUTHORIZED", request_id, str(rejection))
        problems = self._validate(route, headers, body, parse_qs(url.query))
        if problems is not None:
            response_type, detail = problems
            return self._gateway_error(response_type, request_id, detail, details=[{"message": detail}])
        event = self._proxy_event(
            route, url.path, url.query, path_parameters, headers, body, source_ip, request_id, claims
        )
        try:
            result = self.invoke(route.function, event)
            response = _proxy_response(result)
        except TooManyRequestsError:  # Lambda's 429 reaches the client as INTEGRATION_FAILURE
            response = self._gateway_error("INTEGRATION_FAILURE", request_id, "Too many requests")
        except Exception:  # a crashed or malformed function is API Gateway's 502
            response = self._gateway_error("DEFAULT_5XX", request_id, "Internal server error", status=502)
        response.function = route.function
        return response

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        """API Gateway's choice: the resource first, the most specific that matches (a literal
        segment before a parameter, so /receipts/duplicates is not /receipts/{receiptId}); then
        the resource's route for the method, else its ANY method, which catches every method the
        resource does not declare (TRACE too). No resource: MISSING_AUTHENTICATION_TOKEN."""
        matching = [(route, found) for route in self.routes if (found := route.pattern.match(path))]
        if not matching:
            return None, {}
        resource = max((route.path for route, _ in matching), key=_literal_segments)
        for wanted in (method, "ANY"):
            for route, found in matching:
                if route.path == resource and route.method == wanted:
                    return route, found.groupdict()
        return None, {}

    # -- validation ----------------------------------------------------------------------------

    def _validate(
        self, route: Route, headers: dict[str, str], body: bytes, query: dict[str, list[str]]
    ) -> tuple[str, str] | None:
        """What the method's request validator checks (the API's default unless the method names
        its own): the required parameters, the body against its model, either or both."""
        name = route.operation.get(REQUEST_VALIDATOR, self.default_validator)
        checks = self.request_validators.get(name or "", {})
        if checks.get("validateRequestParameters"):
            # Presence only, as API Gateway checks a required query string or header (by name,
            # ignoring a header's case), naming every one missing at once.
            sent = {"query": set(query), "header": {name.lower() for name in headers}}
            missing = [
                parameter["name"]
                for parameter in route.operation.get("parameters", [])
                if parameter.get("required")
                and parameter.get("in") in sent
                and _sent_name(parameter) not in sent[parameter["in"]]
            ]
            if missing:
                return "BAD_REQUEST_PARAMETERS", f"Missing required request parameters: [{', '.join(missing)}]"
        request_body = route.operation.get("requestBody")
        if not request_body or not checks.get("validateRequestBody"):
            return None
        schema = request_body.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return None
        if not body:  # absent: the function reads an optional body as {}; a JSON null is a body
            return ("BAD_REQUEST_BODY", "Invalid request body") if request_body.get("required") else None
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # nested past any parser's depth is not a body either
            return "BAD_REQUEST_BODY", "Invalid request body"
        reference = schema.get("$ref", "").removeprefix("#")
        validator = Draft4Validator(
            {"$ref": f"{_OPENAPI_URI}#{reference}"} if reference else schema, registry=self._registry
        )
        try:
            errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
        except RecursionError:
            return "BAD_REQUEST_BODY", "Invalid request body: nested too deeply"
        if errors:
            first = errors[0]
            where = "/".join(str(part) for part in first.absolute_path) or "(root)"
            return "BAD_REQUEST_BODY", f"Invalid request body: {where}: {_rule_broken(first)}"
        return None

    # -- responses -----------------------------------------------------------------------------

    def refuse_framing(self, message: str) -> HttpResponse:
        """400 for a request whose body cannot even be read (a bad Content-Length or chunk):
        answered, never a dropped connection."""
        request_id = str(uuid.uuid4())
        response = self._gateway_error("BAD_REQUEST_BODY", request_id, message, status=400)
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def _gateway_error(
        self,
        response_type: str,
        request_id: str,
        message: str,
        status: int | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> HttpResponse:
        """API Gateway's own error, shaped by the gateway response of its type. Locally, the
        validation problem also goes into `details`, which helps a client developer most."""
        configured = self.gateway_responses.get(response_type) or self.gateway_responses.get(
            "DEFAULT_5XX" if response_type == "DEFAULT_5XX" else "DEFAULT_4XX", {}
        )
        template = configured.get("responseTemplates", {}).get("application/json", "")
        body = template.replace("$context.requestId", request_id).replace(
            "$context.error.messageString", json.dumps(message)
        )
        if details:
            body = body.replace('"details":[]', f'"details":{json.dumps(details)}')
        headers = [("Content-Type", "application/json")]
        for name, value in configured.get("responseParameters", {}).items():
            headers.append((name.removeprefix("gatewayresponse.header."), str(value).strip("'")))
        return HttpResponse(status or int(configured.get("statusCode", 500)), headers, body.encode("utf-8"))

    def _mock(self, route: Route, request_id: str) -> HttpResponse:
        """A mock integration's default response: its headers, and its body template (the ANY
        method's 405) with the request id filled in."""
        integration = route.operation["x-amazon-apigateway-integration"]
        default = integration.get("responses", {}).get("default", {})
        headers = [
            (name.removeprefix("method.response.header."), str(value).strip("'"))
            for name, value in default.get("responseParameters", {}).items()
        ]
        template = default.get("responseTemplates", {}).get("application/json")
        if template is None:
            return HttpResponse(int(default.get("statusCode", 200)), headers, b"")
        body = template.replace("$context.requestId", request_id).encode("utf-8")
        return HttpResponse(int(default.get("statusCode", 200)), [("Content-Type", "application/json"), *headers], body)

    def _proxy_event(
        self,
        route: Route,
        path: str,
        query_string: str,
        path_parameters: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        source_ip: str,
        request_id: str,
        claims: dict[str, str] | None,
    ) -> JsonObject:
        query = parse_qs(query_string, keep_blank_values=True)
        # API Gateway adds these (a function building a URL to itself reads the scheme from it);
        # the local stack is plain HTTP.
        forwarded = {"X-Forwarded-Proto": "http", "X-Forwarded-For": source_ip}
        headers = {**headers, **{name: value for name, value in forwarded.items() if _header(headers, name) is None}}
        try:
            text_body: str | None = body.decode("utf-8") if body else None
            encoded = False
        except UnicodeDecodeError:
            text_body, encoded = base64.b64encode(body).decode("ascii"), True
        now = utc_now()
        context: JsonObject = {
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": route.path,
            "resourcePath": route.path,
            "httpMethod": route.method,
            # The path as requested: the local stack serves the stage at its root, as a custom
            # domain does (on execute-api it would start with the stage).
            "path": path,
            "stage": self.stage,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": _header(headers, "User-Agent")},
        }
        if claims is not None:
            context["authorizer"] = {"claims": claims}
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": route.method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": context,
            "body": text_body,
            "isBase64Encoded": encoded,
        }


def _header(headers: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _proxy_response(result: JsonValue) -> HttpResponse:
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        raise ValueError("malformed Lambda proxy response")
    headers = list((result.get("headers") or {}).items())
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, value) for value in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return HttpResponse(result["statusCode"], [(k, str(v)) for k, v in headers], raw)
