"""What an environment restored from a SnapStart snapshot renews: random state, pooled
connections, the cached page-token key; and the hook's registration with Lambda's runtime."""

from __future__ import annotations

import http.server
import json
import random
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from receipt_vault import snapstart
from receipt_vault.clients import new_client
from receipt_vault.pagination import secrets_manager_signing_key


def test_two_environments_restored_from_one_snapshot_draw_different_random_numbers():
    snapshot = random.getstate()
    draws = []
    for _environment in range(2):
        random.setstate(snapshot)
        snapstart.renew_after_restore()
        draws.append([random.random() for _ in range(4)])

    assert draws[0] != draws[1]


def test_renewals_run_in_registration_order(monkeypatch):
    ran: list[str] = []
    monkeypatch.setattr(snapstart, "_renewals", [])
    snapstart.on_restore(lambda: ran.append("first"))
    snapstart.on_restore(lambda: ran.append("second"))

    snapstart.renew_after_restore()

    assert ran == ["first", "second"]


def test_the_hook_is_registered_with_the_runtime_when_the_runtime_has_snapshot_restore_py(monkeypatch):
    registered: list[Any] = []
    runtime_library = types.ModuleType("snapshot_restore_py")
    runtime_library.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime_library)

    assert snapstart._register_with_runtime() is True
    assert registered == [snapstart.renew_after_restore]


def test_without_the_runtime_library_nothing_is_registered(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as outside Lambda

    assert snapstart._register_with_runtime() is False


class _KeepAliveDynamoDB(http.server.BaseHTTPRequestHandler):
    """Answers every DynamoDB call with an empty table list over HTTP/1.1 keep-alive, noting the
    client port of each request: a new port is a new connection."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.ports.append(self.client_address[1])
        body = json.dumps({"TableNames": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def keep_alive_endpoint(monkeypatch) -> Iterator[list[int]]:
    ports: ClassVar[list[int]] = []
    handler = type("Handler", (_KeepAliveDynamoDB,), {"ports": ports})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield ports
    server.shutdown()
    server.server_close()


def test_a_restored_client_opens_a_new_connection_and_keeps_working(keep_alive_endpoint):
    client = new_client("dynamodb", "eu-west-1")
    client.list_tables()
    client.list_tables()
    before_snapshot = set(keep_alive_endpoint)

    snapstart.renew_after_restore()
    assert client.list_tables()["TableNames"] == []

    assert len(before_snapshot) == 1  # one pooled connection, reused while the environment lived
    assert keep_alive_endpoint[-1] not in before_snapshot


class _SecretsManager:
    def __init__(self) -> None:
        self.secret = "key-1"
        self.calls = 0

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        self.calls += 1
        return {"SecretString": self.secret}


def test_the_page_token_key_is_fetched_again_after_restore():
    secrets = _SecretsManager()
    signing_key = secrets_manager_signing_key("arn:secret", secrets)  # type: ignore[arg-type]
    assert signing_key() == signing_key() == b"key-1"
    secrets.secret = "key-2"  # rotated while the snapshot waited

    snapstart.renew_after_restore()

    assert signing_key() == b"key-2"
    assert secrets.calls == 2
