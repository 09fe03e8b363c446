"""A small resolver for API Gateway's REST proxy integration (payload 1.0), in place of Powertools'.

Why it exists: importing `aws_lambda_powertools.event_handler` cost every API function's cold start
tens of milliseconds (it imports every resolver kind, OpenAPI, the event data classes...) for the
handful of features the API uses. This module is those features only, and imports nothing but the
standard library. Logger, Tracer and Metrics stay Powertools'.

The contract is what Powertools' `APIGatewayRestResolver` (3.x) did, which the tests and the local
gateway encode:

- routes `"/receipts/<receiptId>"`: a parameter is one path segment (never a `/`), passed as
  found, never percent-decoded; trailing slashes are ignored; static routes win over dynamic ones;
- an unknown path and an unknown method on a known path are both "not found" (no 405);
- `strip_prefixes`: a path equal to a prefix is `/`, one under it loses it;
- CORS: `Access-Control-Allow-Origin` echoes the request's Origin only when it is one of the
  allowed ones (exactly), with the allowed and exposed headers and max age; a preflight (`OPTIONS`
  on no route) is a 204 with every method any route allows. No `Vary` header is added;
- exception handlers by class, looked up along the exception's MRO; the not-found handler;
- middlewares `mw(app, next_middleware) -> Response`, called in the order given, around the route
  and the not-found handler alike;
- a dict (or `(dict, status)`) a route returns goes through the serializer as JSON; a bytes body
  leaves base64-encoded; the response has `multiValueHeaders`, never `headers`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from receipt_vault.shapes import JsonObject

if TYPE_CHECKING:  # for the type only: its package's import is what this module avoids
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
ResponseT = TypeVar("ResponseT")
FuncT = TypeVar("FuncT", bound=Callable[..., Any])
HandlerT = TypeVar("HandlerT", bound=Callable[..., "Response[Any]"])
# Path parameters take these characters besides \w (RFC 3986's unreserved and sub-delims, and
# those API Gateway decodes before the function sees them), as Powertools' did: never a `/`.
_PARAMETER = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_PLACEHOLDER = re.compile(r"<(\w+)>")
_CORS_REQUIRED_HEADERS = ("Authorization", "Content-Type", "X-Amz-Date", "X-Api-Key", "X-Amz-Security-Token")


class Headers(Mapping[str, Any]):
    """Request headers, looked up whatever the case of the name (API Gateway keeps the client's).
    Iterated, the names are lower-case."""

    def __init__(self, headers: Mapping[str, Any] | None) -> None:
        self._headers = {name.lower(): value for name, value in (headers or {}).items()}

    def __getitem__(self, name: str) -> Any:
        return self._headers[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._headers

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers)

    def __len__(self) -> int:
        return len(self._headers)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._headers == dict(Headers(other).items())

    def __repr__(self) -> str:
        return f"Headers({self._headers!r})"


class _View:
    """Read access to one part of the event."""

    def __init__(self, data: Mapping[str, Any] | None) -> None:
        self._data: Mapping[str, Any] = data or {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]


class Identity(_View):
    @property
    def source_ip(self) -> str:
        return str(self._data["sourceIp"])

    @property
    def user_agent(self) -> str | None:
        return self._data.get("userAgent")


class RequestContext(_View):
    @property
    def request_id(self) -> str:
        return str(self._data["requestId"])

    @property
    def path(self) -> str:
        """The path as requested, the stage or base path included."""
        return str(self._data["path"])

    @property
    def stage(self) -> str:
        return str(self._data["stage"])

    @property
    def http_method(self) -> str:
        return str(self._data["httpMethod"])

    @property
    def resource_path(self) -> str:
        return str(self._data["resourcePath"])

    @property
    def identity(self) -> Identity:
        return Identity(self._data["identity"])

    @property
    def claims(self) -> dict[str, Any]:
        """The Cognito authorizer's claims; none without the authorizer."""
        claims: dict[str, Any] = (self._data.get("authorizer") or {}).get("claims") or {}
        return claims


class ProxyEvent(_View):
    """API Gateway's proxy event (REST API, payload 1.0), with the accessors Powertools'
    `APIGatewayProxyEvent` had under the same names."""

    def __init__(self, event: JsonObject) -> None:
        super().__init__(event)
        self._event = event

    @property
    def raw_event(self) -> JsonObject:
        """The event itself, as API Gateway sent it."""
        return self._event

    @property
    def http_method(self) -> str:
        return str(self._data["httpMethod"])

    @property
    def path(self) -> str:
        """The path of the resource, without the stage (with a custom domain's base path)."""
        return str(self._data["path"])

    @property
    def resource(self) -> str:
        """The route's template, `/receipts/{receiptId}`."""
        return str(self._data["resource"])

    @property
    def headers(self) -> Headers:
        return Headers(self._data.get("headers"))

    @property
    def multi_value_headers(self) -> Headers:
        return Headers(self._data.get("multiValueHeaders"))

    @property
    def query_string_parameters(self) -> dict[str, str]:
        params: dict[str, str] = self._data.get("queryStringParameters") or {}
        return params

    @property
    def multi_value_query_string_parameters(self) -> dict[str, list[str]]:
        params: dict[str, list[str]] = self._data.get("multiValueQueryStringParameters") or {}
        return params

    @property
    def path_parameters(self) -> dict[str, str]:
        params: dict[str, str] = self._data.get("pathParameters") or {}
        return params

    @property
    def request_context(self) -> RequestContext:
        return RequestContext(self._data["requestContext"])

    @property
    def is_base64_encoded(self) -> bool:
        return bool(self._data.get("isBase64Encoded"))

    @property
    def body(self) -> str | None:
        """The body as sent in the event: base64 text when `is_base64_encoded`."""
        body: str | None = self._data.get("body")
        return body

    @property
    def decoded_body(self) -> str | None:
        """The body as text, base64-decoded when the event says so. A decoded body that is not
        UTF-8 raises UnicodeDecodeError, and bad base64 binascii.Error (both ValueErrors)."""
        body = self.body
        if self.is_base64_encoded and body:
            return base64.b64decode(body.encode()).decode()
        return body

    @property
    def decoded_bytes(self) -> bytes:
        """The body's bytes, base64-decoded when the event says so; empty without a body."""
        body = self.body
        if not body:
            return b""
        return base64.b64decode(body.encode()) if self.is_base64_encoded else body.encode("utf-8")

    @property
    def origin(self) -> str | None:
        """The request's Origin header, the first of several; from `multiValueHeaders` when the
        event has any, as API Gateway fills both."""
        headers = self.multi_value_headers or self.headers
        origin = headers.get("origin")
        if isinstance(origin, list):
            return str(origin[0]) if origin else None
        return origin if isinstance(origin, str) else None


class Response(Generic[ResponseT]):
    """A route's response: status, body and headers. `content_type` is the Content-Type header
    unless `headers` sets one. A JSON body that is not a string goes through the serializer; a
    bytes body is sent base64-encoded."""

    def __init__(
        self,
        status_code: int,
        content_type: str | None = None,
        body: ResponseT | None = None,
        headers: Mapping[str, str | list[str]] | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.content_type = content_type
        self.headers: dict[str, str | list[str]] = dict(headers) if headers else {}
        if content_type:
            self.headers.setdefault("Content-Type", content_type)

    def is_json(self) -> bool:
        content_type = self.headers.get("Content-Type", "")
        if isinstance(content_type, list):
            content_type = content_type[0] if content_type else ""
        return content_type.startswith(JSON_CONTENT_TYPE)


class CORSConfig:
    """Which origins may call the API from a browser, and what they may send and read.
    `"*"` among the origins allows any, answered as `*`."""

    def __init__(
        self,
        allow_origin: str = "*",
        extra_origins: Sequence[str] | None = None,
        allow_headers: Sequence[str] | None = None,
        expose_headers: Sequence[str] | None = None,
        max_age: int | None = None,
        allow_credentials: bool = False,
    ) -> None:
        self.allowed_origins = [allow_origin, *(extra_origins or [])]
        self.allow_headers = {*_CORS_REQUIRED_HEADERS, *(allow_headers or [])}
        self.expose_headers = list(expose_headers or [])
        self.max_age = max_age
        self.allow_credentials = allow_credentials

    def allowed_origin(self, origin: str | None) -> str | None:
        """What Access-Control-Allow-Origin says to this Origin; None: no CORS headers at all."""
        if origin is None:
            return None
        if origin in self.allowed_origins:  # exactly: no prefix, suffix or case folding
            return origin
        return "*" if "*" in self.allowed_origins else None

    def headers_for(self, origin: str | None) -> dict[str, str]:
        allowed = self.allowed_origin(origin)
        if not allowed:
            return {}
        headers = {
            "Access-Control-Allow-Origin": allowed,
            "Access-Control-Allow-Headers": ",".join(sorted(self.allow_headers)),
        }
        if self.expose_headers:
            headers["Access-Control-Expose-Headers"] = ",".join(self.expose_headers)
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = str(self.max_age)
        if allowed != "*" and self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers


class RouteNotFoundError(Exception):
    """No route has the request's method and path; what the `not_found` handler is given."""


NextMiddleware: TypeAlias = Callable[["RestResolver"], "Response[Any]"]
Middleware: TypeAlias = Callable[["RestResolver", NextMiddleware], "Response[Any]"]
ExceptionHandler: TypeAlias = Callable[[Any], "Response[Any]"]


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    pattern: re.Pattern[str]
    func: Callable[..., Any]
    cors: bool
    middlewares: tuple[Middleware, ...] = field(default=())


def compile_rule(rule: str) -> re.Pattern[str]:
    """`/receipts/<receiptId>` as a regex: a parameter is one segment, any trailing slashes match."""
    parts = _PLACEHOLDER.split(rule.rstrip("/"))  # literal text, a parameter's name, text...
    regex = "".join(f"(?P<{part}>{_PARAMETER})" if index % 2 else re.escape(part) for index, part in enumerate(parts))
    return re.compile(f"^{regex}/*$")


def _default_serializer(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class RestResolver:
    """Routes API Gateway's REST proxy events to the functions registered for them.

    `current_event` and `lambda_context` are the request being resolved (and stay the last one's).
    """

    current_event: ProxyEvent
    lambda_context: LambdaContext

    def __init__(
        self,
        cors: CORSConfig | None = None,
        serializer: Callable[[Any], str] | None = None,
        strip_prefixes: Sequence[str] | None = None,
    ) -> None:
        self._cors = cors
        self._serializer = serializer or _default_serializer
        self._strip_prefixes = list(strip_prefixes or [])
        self._static_routes: list[Route] = []
        self._dynamic_routes: list[Route] = []
        self._cors_methods = {"OPTIONS"}
        self._exception_handlers: dict[type[BaseException], ExceptionHandler] = {}
        self._middlewares: list[Middleware] = []

    # -- registration

    def route(
        self,
        rule: str,
        method: str | Sequence[str],
        cors: bool | None = None,
        middlewares: Sequence[Middleware] | None = None,
    ) -> Callable[[FuncT], FuncT]:
        methods = [method] if isinstance(method, str) else list(method)

        def register(func: FuncT) -> FuncT:
            with_cors = self._cors is not None if cors is None else cors
            for item in methods:
                route = Route(item.upper(), rule, compile_rule(rule), func, with_cors, tuple(middlewares or ()))
                (self._dynamic_routes if route.pattern.groups else self._static_routes).append(route)
                if with_cors:
                    self._cors_methods.add(route.method)
            return func

        return register

    def get(self, rule: str, cors: bool | None = None) -> Callable[[FuncT], FuncT]:
        return self.route(rule, "GET", cors)

    def post(self, rule: str, cors: bool | None = None) -> Callable[[FuncT], FuncT]:
        return self.route(rule, "POST", cors)

    def put(self, rule: str, cors: bool | None = None) -> Callable[[FuncT], FuncT]:
        return self.route(rule, "PUT", cors)

    def patch(self, rule: str, cors: bool | None = None) -> Callable[[FuncT], FuncT]:
        return self.route(rule, "PATCH", cors)

    def delete(self, rule: str, cors: bool | None = None) -> Callable[[FuncT], FuncT]:
        return self.route(rule, "DELETE", cors)

    def head(self, rule: str, cors: bool | None = None) -> Callable[[FuncT], FuncT]:
        return self.route(rule, "HEAD", cors)

    def use(self, middlewares: Sequence[Middleware]) -> None:
        """Middlewares of every route (and of not-found), called in the order added, before the
        route's own."""
        self._middlewares = [*self._middlewares, *middlewares]

    def exception_handler(
        self, exc_class: type[BaseException] | Sequence[type[BaseException]]
    ) -> Callable[[HandlerT], HandlerT]:
        """The handler of these exceptions and their subclasses: the nearest class in an
        exception's MRO wins."""
        classes = [exc_class] if isinstance(exc_class, type) else list(exc_class)

        def register(handler: HandlerT) -> HandlerT:
            for cls in classes:
                self._exception_handlers[cls] = handler
            return handler

        return register

    def not_found(self, handler: HandlerT) -> HandlerT:
        """The answer when no route matches (given a RouteNotFoundError); preflights excepted."""
        return self.exception_handler(RouteNotFoundError)(handler)

    # -- resolution

    def resolve(self, event: JsonObject, context: LambdaContext) -> JsonObject:
        """The proxy response to `event`: `statusCode`, `body`, `isBase64Encoded`, `multiValueHeaders`."""
        self.current_event = ProxyEvent(event)
        self.lambda_context = context
        method = self.current_event.http_method.upper()
        path = self._remove_prefix(self.current_event.path)
        route, arguments = self._match(method, path)
        if route is None:
            route = Route(method, path, re.compile(".*"), self._not_found_answer, self._cors is not None)
        try:
            response = self._to_response(self._stack(route, arguments)(self))
        except Exception as error:
            handler = self._handler_of(type(error))
            if handler is None:
                logger.exception(error)
                raise
            response = self._to_response(handler(error))
        return self._proxy_response(response, route)

    def __call__(self, event: JsonObject, context: LambdaContext) -> JsonObject:
        return self.resolve(event, context)

    def _remove_prefix(self, path: str) -> str:
        for prefix in self._strip_prefixes:
            if path == prefix:
                return "/"
            if prefix and path.startswith(f"{prefix}/"):
                return path[len(prefix) :]
        return path

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in (*self._static_routes, *self._dynamic_routes):
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None, {}

    def _stack(self, route: Route, arguments: dict[str, str]) -> NextMiddleware:
        """The route's function, wrapped in the middlewares, the first one outermost."""

        def endpoint(_: RestResolver) -> Response[Any]:
            return self._to_response(route.func(**arguments))

        call: NextMiddleware = endpoint
        for middleware in reversed((*self._middlewares, *route.middlewares)):
            call = _frame(middleware, call)
        return call

    def _not_found_answer(self) -> Response[Any]:
        if self._cors is not None and self.current_event.http_method.upper() == "OPTIONS":  # a preflight
            methods = ",".join(sorted(self._cors_methods))
            return Response(status_code=204, headers={"Access-Control-Allow-Methods": methods}, body="")
        handler = self._handler_of(RouteNotFoundError)
        if handler is not None:
            return handler(RouteNotFoundError())
        return Response(
            status_code=404, content_type=JSON_CONTENT_TYPE, body={"statusCode": 404, "message": "Not found"}
        )

    def _handler_of(self, exc_type: type[BaseException]) -> ExceptionHandler | None:
        for cls in exc_type.__mro__:
            if cls in self._exception_handlers:
                return self._exception_handlers[cls]
        return None

    @staticmethod
    def _to_response(result: Any) -> Response[Any]:
        if isinstance(result, Response):
            return result
        status = 200
        if isinstance(result, tuple) and len(result) == 2:
            result, status = result
        return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=result)

    def _proxy_response(self, response: Response[Any], route: Route) -> JsonObject:
        body: Any = response.body
        if response.is_json() and not isinstance(body, str):
            body = self._serializer(body)
        headers: dict[str, str | list[str] | None] = dict(response.headers)  # None: left out
        if route.cors:
            headers.update((self._cors or CORSConfig()).headers_for(self.current_event.origin))
        encoded = isinstance(body, bytes)
        if encoded:
            body = base64.b64encode(body).decode()
        multi_value: dict[str, list[str]] = {}
        for name, value in headers.items():
            if value is None:
                continue
            multi_value.setdefault(name, []).extend([value] if isinstance(value, str) else value)
        return {
            "statusCode": response.status_code,
            "body": body,
            "isBase64Encoded": encoded,
            "multiValueHeaders": multi_value,
        }


def _frame(middleware: Middleware, next_middleware: NextMiddleware) -> NextMiddleware:
    def call(app: RestResolver) -> Response[Any]:
        return RestResolver._to_response(middleware(app, next_middleware))

    return call
