"""Where moto is softer than AWS, made as strict, for the local stack and the in-process tests.

S3 checks every request's signature (local/s3_signatures.py), so a pre-signed URL allows exactly
what it signs, for as long as it says, and nothing unsigned reaches a bucket.

The emulator answers only this machine's tools and apps (`LoopbackOnly`): it holds every user's
password and item, and moto would hand them, or a reset, to any web page the developer visits
(it reflects any Origin in its CORS headers) or to a DNS-rebinding name. So a request under a
host name other than localhost or an IP address, a request from a web origin other than a
loopback one (a Flutter web app on localhost is one), and moto's own `/moto-api` are refused.

DynamoDB applies each request atomically: a conditional write checks its condition and writes
in one step, so of two writers racing on the same version exactly one wins, and a read never
sees half a write. moto evaluates the condition, then writes, then serialises the answer, with
nothing in between to stop another thread: 20 threads updating one item at the same version let
2 or 3 of them "win", and a BatchGetItem can fail with "dictionary changed size during
iteration". A test of a race against that would prove nothing, so each request to moto's
DynamoDB, answer included, runs under one lock, as one atomic step. It serialises requests to
the emulator only, never invocations: the functions still race, and their conditional writes
decide who wins.

DynamoDB Streams are written and read as in AWS: a write that changes nothing in an item (an
UpdateItem removing an attribute the item lacks, a PutItem of the same item) writes no stream
record, where moto writes a MODIFY, and a function that tidies up after itself would trigger
itself for ever; a shard iterator expires 15 minutes after it is handed out
(ExpiredIteratorException), where moto keeps every one, and the local stream poller, with a
GetRecords a second, would grow the process by about 150 MB a day.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_P = ParamSpec("_P")
_R = TypeVar("_R")

_DYNAMODB_REQUEST = threading.RLock()
# The one credential of the local stack: its functions, its tools and its tests sign with it.
LOCAL_CREDENTIALS = {"local": "local"}


_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_of(host_header: str) -> str:
    """The host name of a Host header, without its port or an IPv6 address's brackets."""
    try:
        return urllib.parse.urlsplit(f"//{host_header}").hostname or ""
    except ValueError:  # an unreadable port or bracket
        return ""


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK_NAMES or (is_ip_address(host) and ipaddress.ip_address(host).is_loopback)


class LoopbackOnly:
    """WSGI middleware: the emulator serves this machine's tools and native apps, and web apps
    served from this machine, nothing else (see the module's docstring)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        host = host_of(environ.get("HTTP_HOST", ""))
        origin = environ.get("HTTP_ORIGIN")
        origin_host = urllib.parse.urlsplit(origin).hostname or "" if origin else ""
        if host != "localhost" and not is_ip_address(host):
            return _forbidden(start_response, "the AWS emulation answers only on this machine")
        if origin is not None and not _is_loopback(origin_host):
            return _forbidden(start_response, "no requests from other web origins to the AWS emulation")
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return _forbidden(start_response, "moto's own API is not served by the local stack")
        return self.app(environ, start_response)


def _forbidden(start_response: StartResponse, message: str) -> list[bytes]:
    body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
    start_response("403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def reset_emulation() -> None:
    """Empty every emulated service: moto keeps its state in the process, not in the server."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


class StrictMotoServer(ThreadedMotoServer):
    """moto's threaded server, loopback only, with S3's signature check in front of it."""

    def _server_entry(self) -> None:
        from local.s3_signatures import S3Signatures

        dispatcher = DomainDispatcherApplication(create_backend_app)
        app = LoopbackOnly(S3Signatures(dispatcher, LOCAL_CREDENTIALS, _bucket_names, dispatcher))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def _bucket_names() -> list[str]:
    from moto.s3.models import s3_backends

    from local.intrinsics import ACCOUNT_ID

    return list(s3_backends[ACCOUNT_ID]["global"].buckets)


def _atomic(handle: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(handle)
    def one_step(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _DYNAMODB_REQUEST:
            return handle(*args, **kwargs)

    one_step.__atomic__ = True  # type: ignore[attr-defined]  # a marker on the wrapper
    return one_step


def make_dynamodb_requests_atomic() -> None:
    """Patch moto's DynamoDB request handler, once per process (idempotent)."""
    from moto.dynamodb.responses import DynamoHandler

    if not getattr(DynamoHandler.call_action, "__atomic__", False):
        DynamoHandler.call_action = _atomic(DynamoHandler.call_action)  # type: ignore[method-assign]  # patches moto


_QUERIED_PARTITION = threading.local()
# moto's own Table.query and Table.all_items, once patched: what the patches fall back to.
MOTO_TABLE_ORIGINALS: dict[str, Any] = {}


def make_dynamodb_queries_read_one_partition() -> None:
    """Patch moto's table Query, once per process (idempotent): moto sorts every item of the
    table on each Query, then keeps the partition's, so a Query's cost grows with the table
    (about 80 ms in a table of 5,000 receipts' items); DynamoDB's grows with what it reads. A
    Query of the table itself (not of an index) now sorts its own partition only: the same
    items in the same order, so every result, page and LastEvaluatedKey is unchanged."""
    from moto.dynamodb.models.table import Table

    if MOTO_TABLE_ORIGINALS:
        return
    MOTO_TABLE_ORIGINALS.update(query=Table.query, all_items=Table.all_items)

    def all_items(table: Table) -> list[Any]:
        partition = getattr(_QUERIED_PARTITION, "key", None)
        if partition is None or partition[0] is not table:
            return list(MOTO_TABLE_ORIGINALS["all_items"](table))
        stored = table.items.get(partition[1]) if partition[1] in table.items else None
        items = [] if stored is None else list(stored.values()) if table.range_key_attr else [stored]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def query(table: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return MOTO_TABLE_ORIGINALS["query"](table, hash_key, *args, **kwargs)
        _QUERIED_PARTITION.key = (table, hash_key)
        try:
            return MOTO_TABLE_ORIGINALS["query"](table, hash_key, *args, **kwargs)
        finally:
            _QUERIED_PARTITION.key = None

    Table.query = query  # type: ignore[method-assign,assignment]  # patches moto
    Table.all_items = all_items  # type: ignore[method-assign,assignment]  # patches moto


def make_dynamodb_items_linear_to_build() -> None:
    """Patch moto's Item, once per process (idempotent): moto checks the 400 KB item limit on
    every attribute it adds, each time sizing every attribute already added, so building an item
    of n attributes sizes n²/2 of them (about 1 ms of a 25-attribute receipt's PutItem). The
    patch keeps a running total instead: attributes are still wrapped and sized one by one, in
    order, and the item is refused at the same attribute, so the same items are refused with
    the same error, a malformed attribute after the limit included (it is never looked at)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.utilities import bytesize

    if getattr(Item.__init__, "__linear__", False):
        return
    original_init = Item.__init__
    limit = 405000  # LimitedSizeDict.__setitem__'s own

    def init(item: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
        original_init(item, hash_key, range_key, {})
        wrapped, size = {}, 0
        for key, value in attrs.items():
            wrapped[key] = DynamoType(value)
            size += bytesize(key) + wrapped[key].size()
            if size > limit:
                raise ItemSizeTooLarge
        dict.update(item.attrs, wrapped)  # later changes go through LimitedSizeDict's own check

    init.__linear__ = True  # type: ignore[attr-defined]  # a marker on the wrapper
    Item.__init__ = init  # type: ignore[method-assign,assignment]  # patches moto


SHARD_ITERATOR_LIFETIME_SECONDS = 15 * 60
_SHARD_ITERATORS = threading.Lock()


def make_dynamodb_streams_faithful() -> None:
    """Patch moto's DynamoDB Streams, once per process (idempotent): no record for a write that
    changes nothing, and shard iterators that live SHARD_ITERATOR_LIFETIME_SECONDS."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    if getattr(DynamoDBStreamsBackend.get_records, "__faithful__", False):
        return
    original_add = StreamShard.add
    original_init, original_get_records = ShardIterator.__init__, DynamoDBStreamsBackend.get_records
    issued: dict[str, float] = {}  # iterator ARN -> when it was handed out (monotonic)

    def add(shard: StreamShard, old: Item | None, new: Item | None) -> None:
        if old is not None and new is not None and old.to_json() == new.to_json():
            return  # nothing changed: DynamoDB writes no record
        original_add(shard, old, new)

    def init(iterator: ShardIterator, *args: object, **kwargs: object) -> None:
        original_init(iterator, *args, **kwargs)  # type: ignore[arg-type]  # moto's own arguments, passed on
        issued[iterator.arn] = time.monotonic()

    def get_records(backend: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, object]:
        with _SHARD_ITERATORS:
            oldest = time.monotonic() - SHARD_ITERATOR_LIFETIME_SECONDS
            # A copy: GetShardIterator adds to `issued` without the lock.
            for arn in [arn for arn, at in list(issued.items()) if at < oldest]:
                issued.pop(arn, None)
                backend.shard_iterators.pop(arn, None)
            if iterator_arn not in backend.shard_iterators:
                raise JsonRESTError("ExpiredIteratorException", "Iterator expired")
            return original_get_records(backend, iterator_arn, limit)

    from moto.dynamodb.models import DynamoDBBackend

    original_transact = DynamoDBBackend.transact_write_items

    def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        # A cancelled transaction makes moto put back deep copies of its tables, streams and
        # all: every reader's iterator would then follow a shard that no longer grows. Keep each
        # table's live shard, without the records of the writes that were rolled back.
        live = {name: (table, table.stream_shard) for name, table in backend.tables.items() if table.stream_shard}
        lengths = {name: len(shard.items) for name, (_, shard) in live.items()}
        try:
            original_transact(backend, transact_items)
        finally:
            for name, (table, shard) in live.items():
                restored = backend.tables.get(name)
                if restored is not None and restored is not table:
                    del shard.items[lengths[name] :]
                    shard.table, restored.stream_shard = restored, shard

    get_records.__faithful__ = True  # type: ignore[attr-defined]  # a marker on the wrapper
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign,assignment]  # patches moto
    StreamShard.add = add  # type: ignore[method-assign,assignment]  # patches moto
    ShardIterator.__init__ = init  # type: ignore[method-assign,assignment]  # patches moto
    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign,assignment]  # patches moto


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
