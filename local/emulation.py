"""Where moto is softer than AWS, made as strict, for the local stack and the in-process tests.

S3 checks every request's signature (local/s3_signatures.py), so a pre-signed URL allows exactly
what it signs, for as long as it says, and nothing unsigned reaches a bucket.

DynamoDB applies each request atomically: a conditional write checks its condition and writes
in one step, so of two writers racing on the same version exactly one wins, and a read never
sees half a write. moto evaluates the condition, then writes, then serialises the answer, with
nothing in between to stop another thread: 20 threads updating one item at the same version let
2 or 3 of them "win", and a BatchGetItem can fail with "dictionary changed size during
iteration". A test of a race against that would prove nothing, so each request to moto's
DynamoDB, answer included, runs under one lock, as one atomic step. It serialises requests to
the emulator only, never invocations: the functions still race, and their conditional writes
decide who wins.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

_DYNAMODB_REQUEST = threading.RLock()
# The one credential of the local stack: its functions, its tools and its tests sign with it.
LOCAL_CREDENTIALS = {"local": "local"}


class StrictMotoServer(ThreadedMotoServer):
    """moto's threaded server with S3's signature check in front of it."""

    def _server_entry(self) -> None:
        from local.s3_signatures import S3Signatures

        app = S3Signatures(DomainDispatcherApplication(create_backend_app), LOCAL_CREDENTIALS, _bucket_names)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def _bucket_names() -> list[str]:
    from moto.s3.models import s3_backends

    from local.intrinsics import ACCOUNT_ID

    return list(s3_backends[ACCOUNT_ID]["global"].buckets)


def _atomic(handle: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handle)
    def one_step(*args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_REQUEST:
            return handle(*args, **kwargs)

    one_step.__atomic__ = True  # type: ignore[attr-defined]
    return one_step


def make_dynamodb_requests_atomic() -> None:
    """Patch moto's DynamoDB request handler, once per process (idempotent)."""
    from moto.dynamodb.responses import DynamoHandler

    if not getattr(DynamoHandler.call_action, "__atomic__", False):
        DynamoHandler.call_action = _atomic(DynamoHandler.call_action)  # type: ignore[method-assign]


def pin_distribution_id(created_id: str, logical_id: str) -> str:
    """Give a distribution moto created a stable id, derived from its logical id: moto picks a
    random one, and the local stack's ids stay the same from one run to the next (env.json).
    Returns the new id."""
    import hashlib

    from moto.cloudfront.models import cloudfront_backends

    from local.intrinsics import ACCOUNT_ID

    stable = "E" + hashlib.sha256(logical_id.encode()).hexdigest()[:12].upper()
    backend = cloudfront_backends[ACCOUNT_ID]["global"]
    distribution = backend.distributions.pop(created_id)
    distribution.distribution_id = distribution.id = stable
    distribution.arn = distribution.arn.rsplit("/", 1)[0] + f"/{stable}"
    backend.distributions[stable] = distribution
    return stable
