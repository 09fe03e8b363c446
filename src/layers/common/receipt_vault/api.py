"""The REST plumbing every API function shares: resolver, CORS, error shape, body parsing.

Handlers stay thin: they parse input with `parse_body`, call business code, and return a dict.
Every failure, whether a domain error, a malformed body or an unexpected crash, leaves through
one exception handler, in the standard shape and with the request id, so the client sees one
format whatever went wrong. A 500 never carries internal text.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from receipt_vault.active_users import active_users_for
from receipt_vault.erasure import ErasedAccounts
from receipt_vault.errors import ApiError, BadRequestError, NotFoundError, PayloadTooLargeError, UnauthorizedError
from receipt_vault.json_codec import to_json as to_json  # re-exported: the functions' apps import it from here
from receipt_vault.observability import Observability, hash_user_id
from receipt_vault.rest import CORSConfig, Middleware, NextMiddleware, Response, RestResolver
from receipt_vault.settings import ApiSettings
from receipt_vault.shapes import JsonObject
from receipt_vault.validation import Model, ValidationError

ModelT = TypeVar("ModelT", bound=Model)
# An API function's handler: API Gateway's proxy event in, the proxy response out.
ApiHandler: TypeAlias = Callable[[JsonObject, LambdaContext], JsonObject]

CORS_ALLOWED_HEADERS = [
    "Content-Type",
    "Authorization",
    "X-Amz-Date",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "X-Deletion-Token",
]
CORS_MAX_AGE_SECONDS = 3600
API_NAMESPACE = "ReceiptVault/API"
USERS_NAMESPACE = "ReceiptVault/Users"
# Lambda refuses an event over 6 MB; the body, escaped inside the event, must stay well below.
MAX_REQUEST_BODY_BYTES = 4 * 1024 * 1024
# The custom domain maps the stage under /v1; the execute-api URL has no prefix.
CUSTOM_DOMAIN_BASE_PATH = "/v1"


def error_body(error: ApiError, request_id: str) -> dict[str, object]:
    return {
        "error": error.code,
        "message": error.message,
        "requestId": request_id,
        "details": error.details,
        **error.body_extras(),
    }


def build_api(settings: ApiSettings, observability: Observability) -> RestResolver:
    origins = list(settings.cors_allowed_origins)
    cors = CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=CORS_ALLOWED_HEADERS,
        expose_headers=["Retry-After"],
        max_age=CORS_MAX_AGE_SECONDS,
    )
    # Our own resolver, not Powertools' event handler, whose import cost every cold start (rest.py).
    app = RestResolver(cors=cors, serializer=to_json, strip_prefixes=[CUSTOM_DOMAIN_BASE_PATH])
    logger = observability.logger

    def respond(error: ApiError) -> Response[str]:
        request_id = app.current_event.request_context.request_id or ""
        return Response(
            status_code=error.status_code,
            content_type="application/json",
            body=to_json(error_body(error, request_id)),
            headers=error.headers(),
        )

    # An exception's handler is the nearest of these along its MRO.
    @app.exception_handler(ApiError)
    def handle_api_error(error: ApiError) -> Response[str]:
        logger.info("request rejected", extra={"error": error.code, "status": error.status_code})
        return respond(error)

    @app.exception_handler(ValidationError)
    def handle_validation_error(error: ValidationError) -> Response[str]:
        return handle_api_error(BadRequestError("invalid request", details=validation_details(error)))

    @app.not_found
    def handle_unknown_route(_: Exception) -> Response[str]:
        return respond(NotFoundError("no such route"))

    @app.exception_handler(Exception)
    def handle_unexpected_error(_: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return respond(ApiError("internal error"))

    return app


def make_lambda_handler(
    app: RestResolver,
    observability: Observability,
    table_name: str | None = None,
    open_to_erased: frozenset[str] = frozenset(),
) -> ApiHandler:
    """The function's handler: logs, traces and metrics around the resolver. Every 4xx and 5xx
    counts in `ErrorCount` by endpoint. Given the table, each user's first request of the day
    counts in `ActiveUsers`, and a request of an account whose erasure has started is refused
    (401), unless its route (`"DELETE /user/account"`) is in `open_to_erased`."""
    logger, tracer, metrics = observability
    active_users = active_users_for(table_name, logger) if table_name else None
    if table_name:
        app.use(middlewares=[_refuse_erased_accounts(erased_accounts_of(table_name), open_to_erased)])

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: JsonObject, context: LambdaContext) -> JsonObject:
        subject = _claims(event).get("sub")
        if subject:
            logger.append_keys(user_hash=hash_user_id(subject))
        response = with_security_headers(app.resolve(event, context))
        status = int(response.get("statusCode") or 500)
        endpoint = f"{event.get('httpMethod')} {event.get('resource')}"
        logger.info(
            "request completed",
            extra={"route": event.get("resource"), "method": event.get("httpMethod"), "status": status},
        )
        if status >= 400:
            _count("ErrorCount", API_NAMESPACE, {"Endpoint": endpoint, "StatusClass": f"{status // 100}xx"})
        if subject and active_users is not None and status < 400 and active_users.first_today(str(subject)):
            _count("ActiveUsers", USERS_NAMESPACE, {})
        return response

    handler: ApiHandler = lambda_handler  # as the decorators leave it
    return handler


# Every answer is personal data for one user: no cache may keep it, and no browser may guess
# another type for it. The gateway responses carry the same (api/openapi.yaml).
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def with_security_headers(response: JsonObject) -> JsonObject:
    """The security headers a route did not set itself (in `headers` or `multiValueHeaders`, which
    API Gateway merges: a header in both would be sent twice)."""
    own = {name.lower() for name in (*(response.get("headers") or {}), *(response.get("multiValueHeaders") or {}))}
    defaults = {name: value for name, value in SECURITY_HEADERS.items() if name.lower() not in own}
    response["headers"] = {**defaults, **(response.get("headers") or {})}
    return response


def _refuse_erased_accounts(erased: ErasedAccounts, open_routes: frozenset[str]) -> Middleware:
    """A middleware of every route: nothing reaches an account whose erasure has started."""

    def refuse_erased(app: RestResolver, next_middleware: NextMiddleware) -> Response[Any]:
        event = app.current_event
        subject = _claims(event.raw_event).get("sub")
        if subject and f"{event.http_method} {event.resource}" not in open_routes and erased.is_erased(str(subject)):
            raise UnauthorizedError("this account has been erased; sign out")
        return next_middleware(app)

    return refuse_erased


def erased_accounts_of(table_name: str) -> ErasedAccounts:
    """With a client of its own, created on the first request, as the active-user markers."""
    from receipt_vault.clients import lazy_table

    return ErasedAccounts(lazy_table(table_name))


def _count(name: str, namespace: str, dimensions: dict[str, str]) -> None:
    """One EMF record of a count with exactly these dimensions. Written by hand: Powertools adds
    the function's `service` dimension, which would split these cross-function metrics apart."""
    emf = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": namespace, "Dimensions": [list(dimensions)], "Metrics": [{"Name": name, "Unit": "Count"}]}
            ],
        },
        **dimensions,
        name: 1,
    }
    write_emf(json.dumps(emf, separators=(",", ":")))


def write_emf(line: str) -> None:
    """Lambda reads EMF records from stdout."""
    print(line, flush=True)


def _claims(event: JsonObject) -> JsonObject:
    context = event.get("requestContext") or {}
    claims: JsonObject = (context.get("authorizer") or {}).get("claims") or {}
    return claims


# Cognito's subs are UUIDs; whatever else a subject holds, never a key separator.
_SUBJECT = re.compile(r"[0-9A-Za-z-]{1,128}")


def current_user_id(app: RestResolver) -> str:
    """The caller is always the access token's `sub`; a client never names a user id.

    API Gateway's Cognito authorizer has already checked the token. This guards against a
    route deployed without the authorizer, and against ID tokens, which must not call the API.
    """
    claims = _claims(app.current_event.raw_event)
    subject = claims.get("sub")
    if not subject or claims.get("token_use") != "access":  # no token_use is no access token either
        raise UnauthorizedError("an access token is required")
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):  # it goes into every key
        raise UnauthorizedError("an access token is required")
    return subject


def current_username(app: RestResolver) -> str:
    """The caller's Cognito username (the access token's `username`), which admin calls need."""
    claims = _claims(app.current_event.raw_event)
    return str(claims.get("username") or current_user_id(app))


def parse_body(app: RestResolver, model: type[ModelT], required: bool = True) -> ModelT:
    """The body as `model`; with required=False an absent body means `{}`.

    Strict, as API Gateway's JSON schema validation is: a number sent as a string, or a boolean
    where an integer goes, is an error, never coerced. A body over MAX_REQUEST_BODY_BYTES is 413,
    so every accepted request, as its Lambda event, stays within Lambda's 6 MB.
    """
    body = app.current_event.body
    if not body:
        if not required:
            return model.model_validate({})
        raise BadRequestError("a JSON request body is required")
    if len(body.encode("utf-8")) > MAX_REQUEST_BODY_BYTES:
        raise PayloadTooLargeError(f"a request body holds at most {MAX_REQUEST_BODY_BYTES // (1024 * 1024)} MiB")
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as error:
        if any(issue["type"] == "json_invalid" for issue in error.errors()):
            raise BadRequestError("the request body is not valid JSON") from None
        raise BadRequestError("invalid request body", details=validation_details(error)) from None


def parse_json_body(app: RestResolver, model: type[ModelT]) -> ModelT:
    """The body as `model`, parsed as plain JSON first: for a body whose parts are validated one
    by one (a push's items), so that what one item holds (nesting too deep for the strict
    parser, a lone surrogate) is that item's problem, never the whole request's."""
    body = app.current_event.body
    if not body:
        raise BadRequestError("a JSON request body is required")
    if len(body.encode("utf-8")) > MAX_REQUEST_BODY_BYTES:
        raise PayloadTooLargeError(f"a request body holds at most {MAX_REQUEST_BODY_BYTES // (1024 * 1024)} MiB")
    try:
        document = json.loads(body)
    except RecursionError:
        raise BadRequestError("the request body is nested too deeply") from None
    except ValueError:
        raise BadRequestError("the request body is not valid JSON") from None
    try:
        return model.model_validate(document, strict=True)
    except ValidationError as error:
        raise BadRequestError("invalid request body", details=validation_details(error)) from None


def parse_query(app: RestResolver, model: type[ModelT]) -> ModelT:
    params = app.current_event.query_string_parameters or {}
    try:
        return model.model_validate(params)
    except ValidationError as error:
        raise BadRequestError("invalid query parameters", details=validation_details(error)) from None


def validation_details(error: ValidationError) -> list[dict[str, str]]:
    """Field paths and messages only: the input is never echoed, it may be personal data."""
    return [
        {"field": ".".join(str(part) for part in issue["loc"]) or "body", "message": issue["msg"]}
        for issue in error.errors(include_url=False, include_context=False, include_input=False)
    ]
