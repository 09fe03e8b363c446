"""The guard: every botocore call made while one is bound is authorised against its role first.

botocore copies a session's event handlers into each client when it creates it, so `install`
appends the hooks to `botocore.handlers.BUILTIN_HANDLERS`, as moto does: every session created
afterwards, and every client of those, carries them. (A session that already exists, boto3's
default one included, gets them registered as well.) The hooks read the guard to apply at call
time, from a context variable (`enforce`) or else a process-wide one (`bind_process`), so a
client created at import, before any guard, is still checked.

A call the role does not allow never reaches the emulation: botocore raises the ClientError
AWS would answer (the client's modelled exception class where it has one), before the request
is sent. Each denial is one JSON line on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import boto3
import botocore.auth
import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from local.iam.lookups import UNCHECKED, Lookups, unchecked
from local.iam.policy import Evaluation, Request, RolePolicies, evaluate
from local.iam.requests import ApiParams, Call, parse_presigned, requests_for, s3_object_requests
from receipt_vault.shapes import JsonObject

if TYPE_CHECKING:
    from botocore.awsrequest import AWSRequest
    from botocore.model import OperationModel

# botocore's context of one call, shared by its event handlers: each keeps what it likes there.
BotocoreContext: TypeAlias = dict[str, Any]

# The error a denied caller sees, per service: (code, HTTP status).
DENIAL_ERRORS: dict[str, tuple[str, int]] = {
    "dynamodb": ("AccessDeniedException", 400),
    "s3": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "cloudfront": ("AccessDenied", 403),
    "bedrock-runtime": ("AccessDeniedException", 403),
    "scheduler": ("AccessDeniedException", 403),
    "lambda": ("AccessDeniedException", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
}
DEFAULT_DENIAL = ("AccessDeniedException", 400)  # KMS, Secrets Manager, SSM, Cognito, Textract, Logs


@dataclass(frozen=True)
class Decision:
    """One evaluated request of one call, for recording."""

    function: str
    role: str
    service: str
    operation: str
    request: Request
    evaluation: Evaluation


class RoleGuard:
    """One function's role, applied to its calls."""

    def __init__(self, policies: RolePolicies, function_name: str, region: str, account_id: str) -> None:
        self.policies = policies
        self.function_name = function_name
        self.region = region
        self.account_id = account_id
        self.principal = f"arn:aws:sts::{account_id}:assumed-role/{policies.role_name}/{function_name}"
        self.lookups = Lookups(region, account_id)
        # Evaluated at each call: True for a call the function is not the author of (a test's
        # stand-in for another actor, patched into the handler), which then goes unchecked.
        self.exempt: Callable[[], bool] | None = None

    # -- evaluation ----------------------------------------------------------------------------------

    def call(self, service: str, operation: str, params: ApiParams) -> Call:
        return Call(service, operation, params, self.region, self.account_id, self.lookups)

    def requests(self, service: str, operation: str, params: ApiParams) -> list[Request]:
        return requests_for(self.call(service, operation, params))

    def _context(self, request: Request) -> Request:
        now = dt.datetime.now(dt.UTC)
        context = {
            "aws:principalarn": (self.policies.role_arn,),
            "aws:principalaccount": (self.account_id,),
            "aws:principaltype": ("AssumedRole",),
            "aws:requestedregion": (self.region,),
            "aws:securetransport": ("true",),
            "aws:currenttime": (now.strftime("%Y-%m-%dT%H:%M:%SZ"),),
            "aws:epochtime": (str(int(now.timestamp())),),
            **request.context,
        }
        return Request(request.action, request.resource, context, request.via, request.error)

    def evaluate(self, request: Request) -> Evaluation:
        return evaluate(self.policies.statements, self._context(request))

    def decide(self, service: str, operation: str, requests: list[Request]) -> list[tuple[Request, Evaluation]]:
        decided = []
        for request in requests:
            evaluation = self.evaluate(request)
            _record(
                Decision(self.function_name, self.policies.role_logical_id, service, operation, request, evaluation)
            )
            decided.append((request, evaluation))
        return decided

    # -- denial ----------------------------------------------------------------------------------------

    def message(self, service: str, request: Request, evaluation: Evaluation) -> str:
        action = request.action
        if service == "sns" and action.startswith("sns:"):
            action = "SNS:" + action[4:]  # as SNS writes it
        resource = f'"{request.resource}"' if service == "s3" else request.resource
        on = "" if request.resource == "*" else f" on resource: {resource}"
        if evaluation.explicit_deny:
            why = "with an explicit deny in an identity-based policy"
        else:
            why = f"because no identity-based policy allows the {action} action"
        return f"User: {self.principal} is not authorized to perform: {action}{on} {why}"

    def error_response(self, service: str, request: Request, evaluation: Evaluation) -> JsonObject:
        code, status = request.error or DENIAL_ERRORS.get(service, DEFAULT_DENIAL)
        message = self.message(service, request, evaluation)
        if code == "InvalidS3ObjectException":
            message = "Unable to get object metadata from S3. Check object key, region and/or access permissions."
        request_id = str(uuid.uuid4())
        return {
            "Error": {"Code": code, "Message": message, "Type": "Sender"},
            "ResponseMetadata": {
                "RequestId": request_id,
                "HTTPStatusCode": status,
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            },
        }

    def log_denial(self, service: str, operation: str, request: Request, evaluation: Evaluation) -> None:
        resource = loggable_resource(request.resource)
        line: dict[str, object] = {
            "level": "ERROR",
            "message": "AccessDenied",
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "function": self.function_name,
            "role": self.policies.role_logical_id,
            "service": service,
            "operation": operation,
            "action": request.action,
            "resource": resource,
            **({"via": request.via} if request.via else {}),
        }
        if evaluation.explicit_deny:
            line["deniedBy"] = list(evaluation.denied_by)
        else:
            line["missing"] = {"Effect": "Allow", "Action": request.action, "Resource": resource}
        sys.stderr.write(json.dumps(line) + "\n")
        sys.stderr.flush()

    def check(
        self, service: str, operation: str, params: ApiParams
    ) -> tuple[JsonObject | None, list[tuple[Request, Evaluation]]]:
        """(the error response of the first denied request or None, every decision)."""
        decided = self.decide(service, operation, self.requests(service, operation, params))
        for request, evaluation in decided:
            if not evaluation.allowed:
                self.log_denial(service, operation, request, evaluation)
                return self.error_response(service, request, evaluation), decided
        return None, decided

    def authorize(self, service_name: str, operation_name: str, params: ApiParams) -> None:
        """Raise the ClientError AWS would answer if the role does not allow this call."""
        error, _ = self.check(service_name, operation_name, params)
        if error is not None:
            raise ClientError(error, operation_name)  # type: ignore[arg-type]  # stubs want their error TypedDict


_S3_KEY_SEGMENT = re.compile(r"^[a-z]+$")


def loggable_resource(resource: str) -> str:
    """The resource without personal data, for logs: an S3 key keeps its lower-case words
    (users/*/receipts/*/original/*) and loses ids; a push endpoint loses its id."""
    if resource.startswith("arn:aws:s3:::") and "/" in resource:
        bucket, key = resource[len("arn:aws:s3:::") :].split("/", 1)
        shape = "/".join(part if _S3_KEY_SEGMENT.match(part) else "*" for part in key.split("/"))
        return f"arn:aws:s3:::{bucket}/{shape}"
    if ":endpoint/" in resource:
        return resource.rsplit("/", 1)[0] + "/*"
    return resource


# -- binding -----------------------------------------------------------------------------------------


class _Unset:
    pass


_UNSET = _Unset()
_ACTIVE: ContextVar[RoleGuard | _Unset | None] = ContextVar("local_iam_guard", default=_UNSET)
_PROCESS_GUARD: RoleGuard | None = None


def active_guard() -> RoleGuard | None:
    if UNCHECKED.get():
        return None
    bound = _ACTIVE.get()
    guard = _PROCESS_GUARD if isinstance(bound, _Unset) else bound
    if guard is not None and guard.exempt is not None and guard.exempt():
        return None
    return guard


@contextmanager
def enforce(guard: RoleGuard | None) -> Iterator[RoleGuard | None]:
    """Apply `guard` to every call made inside (this thread or task); None: no checks."""
    token = _ACTIVE.set(guard)
    try:
        yield guard
    finally:
        _ACTIVE.reset(token)


def bind_process(guard: RoleGuard | None) -> None:
    """Apply `guard` to every call of this process that no `enforce` covers (a worker that
    runs one function only)."""
    global _PROCESS_GUARD
    _PROCESS_GUARD = guard


# -- recording ---------------------------------------------------------------------------------------

_recorders: list[list[Decision]] = []
_recorders_lock = threading.Lock()


def _record(decision: Decision) -> None:
    with _recorders_lock:
        for recorder in _recorders:
            recorder.append(decision)


@contextmanager
def recording() -> Iterator[list[Decision]]:
    """Every decision any guard makes meanwhile, in order."""
    recorder: list[Decision] = []
    with _recorders_lock:
        _recorders.append(recorder)
    try:
        yield recorder
    finally:
        with _recorders_lock:
            _recorders.remove(recorder)


# -- botocore hooks ----------------------------------------------------------------------------------

_PARAMS = "local_iam_params"
_GUARD = "local_iam_guard"


def _before_parameter_build(params: ApiParams, model: OperationModel, context: BotocoreContext, **_: object) -> None:
    """Registered last, so the parameters are final (boto3's DynamoDB resource has serialized
    its values). A pre-signed URL is authorised here, as it is signed; a call in before-call,
    once botocore has validated the parameters."""
    guard = active_guard()
    if guard is None or _GUARD in context:
        return
    context[_GUARD] = guard
    context[_PARAMS] = params
    if context.get("is_presign_request"):
        error = guard.check(model.service_model.service_name, model.name, params)[0]
        if error is not None:
            raise ClientError(error, model.name)  # type: ignore[arg-type]  # stubs want their error TypedDict
        context[_PARAMS] = None


def _before_call(model: OperationModel, context: BotocoreContext, **_: object) -> tuple[AWSResponse, JsonObject] | None:
    guard, params = context.get(_GUARD), context.get(_PARAMS)
    if guard is None or params is None:
        return None
    context[_PARAMS] = None  # once, whatever the number of handlers
    service, operation = model.service_model.service_name, model.name
    if (service, operation) == ("s3", "DeleteObjects"):
        return _delete_objects(guard, params)
    error = guard.check(service, operation, params)[0]
    if error is None:
        return None
    # The stubs want a URL and HTTPHeaders; an answer that never went over the wire has neither.
    return AWSResponse(None, error["ResponseMetadata"]["HTTPStatusCode"], {}, None), error  # type: ignore[arg-type]


def _delete_objects(guard: RoleGuard, params: ApiParams) -> tuple[AWSResponse, JsonObject] | None:
    """DeleteObjects is authorised per object: S3 deletes the allowed ones and lists each
    refused one under Errors (AccessDenied), in a 200 answer."""
    decided = guard.decide("s3", "DeleteObjects", guard.requests("s3", "DeleteObjects", params))
    objects = params["Delete"]["Objects"]
    refused = [(o, r, e) for o, (r, e) in zip(objects, decided, strict=True) if not e.allowed]
    if not refused:
        return None
    for _, request, evaluation in refused:
        guard.log_denial("s3", "DeleteObjects", request, evaluation)
    allowed = [o for o, (_, e) in zip(objects, decided, strict=True) if e.allowed]
    response: JsonObject = {"Deleted": []}
    if allowed:
        delete = {**params["Delete"], "Objects": allowed}
        answered = guard.lookups.call("s3", "delete_objects", Bucket=params["Bucket"], Delete=delete)
        response = {key: value for key, value in (answered or {}).items() if key != "ResponseMetadata"}
    response["Errors"] = [
        *response.get("Errors", []),
        *(
            {
                "Key": o["Key"],
                **({"VersionId": o["VersionId"]} if "VersionId" in o else {}),
                "Code": "AccessDenied",
                "Message": "Access Denied",
            }
            for o, _, _ in refused
        ),
    ]
    if params["Delete"].get("Quiet"):
        response.pop("Deleted", None)
    response["ResponseMetadata"] = {
        "RequestId": str(uuid.uuid4()),
        "HTTPStatusCode": 200,
        "HTTPHeaders": {},
        "RetryAttempts": 0,
    }
    return AWSResponse(None, 200, {}, None), response  # type: ignore[arg-type]  # as in _before_call


_original_add_auth = botocore.auth.S3SigV4QueryAuth.add_auth


def _presigning_add_auth(self: botocore.auth.S3SigV4QueryAuth, request: AWSRequest) -> None:
    """A URL signed without botocore's client (receipt_vault.s3_presigner signs with
    S3SigV4QueryAuth directly): authorised here, for the request it will make."""
    guard = active_guard()
    if guard is not None and not (getattr(request, "context", None) or {}).get("is_presign_request"):
        method, url = cast(str, request.method), cast(str, request.url)  # a request being signed has both
        operation, params = parse_presigned(method, url, dict(request.headers))
        call = guard.call("s3", operation, params)
        requests = (
            s3_object_requests(call, operation, params["Bucket"], params["Key"], params)
            if "Key" in params
            else requests_for(call)
        )
        decided = guard.decide("s3", operation, requests)
        for denied, evaluation in decided:
            if not evaluation.allowed:
                guard.log_denial("s3", operation, denied, evaluation)
                error = guard.error_response("s3", denied, evaluation)
                raise ClientError(error, operation)  # type: ignore[arg-type]  # stubs want their error TypedDict
    _original_add_auth(self, request)


_HOOKS: list[tuple[object, ...]] = [
    ("before-parameter-build", _before_parameter_build, botocore.handlers.REGISTER_LAST),
    ("before-call", _before_call),
]
_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Register the hooks for every botocore session and client from now on, and on boto3's
    default session if it exists already. Idempotent."""
    global _installed
    with _install_lock:
        if _installed:
            return
        botocore.handlers.BUILTIN_HANDLERS.extend(_HOOKS)
        session = boto3.DEFAULT_SESSION
        if session is not None:
            events = session.events
            events.register_last("before-parameter-build", _before_parameter_build, unique_id="local-iam-params")
            # The stubs type every handler as returning None; a before-call handler may answer.
            events.register("before-call", _before_call, unique_id="local-iam-call")  # type: ignore[arg-type]
        # A patch of botocore's class, typed by the stubs as SigV4Auth's method.
        botocore.auth.S3SigV4QueryAuth.add_auth = _presigning_add_auth  # type: ignore[method-assign, assignment]
        _installed = True


__all__ = [
    "DENIAL_ERRORS",
    "Decision",
    "RoleGuard",
    "active_guard",
    "bind_process",
    "enforce",
    "install",
    "loggable_resource",
    "recording",
    "unchecked",
]
