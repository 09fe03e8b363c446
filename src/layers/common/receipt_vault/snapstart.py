"""Lambda SnapStart: what an execution environment renews when it resumes from a snapshot.

With SnapStart (the template's `SnapStart` parameter), Lambda runs a version's init once, when it
publishes the version, and starts every later environment from a snapshot of that memory. What
init left behind is then shared by every environment and may be days old:
- `random`'s state: every environment would draw the same "random" numbers, so retry jitter
  (botocore's and `dynamo`'s) would fall into step across all of them. It is re-seeded.
- the clients' pooled connections: sockets opened before the snapshot belong to another
  machine's network state. Each client the layer creates drops them (the client stays, with its
  loaded service model, and opens new ones).
- cached secrets (the page-token key): fetched again, so a rotation is seen.
`os.urandom`, `secrets` and `uuid4` read the kernel, which Lambda re-seeds on restore: ids and
tokens need nothing. The string hash seed (PYTHONHASHSEED) cannot change after start, so it is
shared by the environments of one version: nothing here depends on it being secret.

The hook is registered with the runtime's `snapshot_restore_py`, which Lambda's Python runtime
ships. Elsewhere (tests, the local stack, a function without SnapStart) it is absent and
`renew_after_restore` only runs when called.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol, TypeVar

_renewals: list[Callable[[], object]] = []


class _ClosableClient(Protocol):
    def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_ClosableClient)


def on_restore(renewal: Callable[[], object]) -> None:
    """Runs `renewal` when the environment resumes from a snapshot, after the ones before it."""
    _renewals.append(renewal)


def drops_connections_on_restore(client: ClientT) -> ClientT:
    """`client`, whose pooled connections are closed on restore (botocore reopens them on use)."""
    on_restore(client.close)
    return client


def renew_after_restore() -> None:
    """The after-restore hook: re-seeds `random`, then runs every registered renewal."""
    random.seed()  # from os.urandom
    for renewal in list(_renewals):
        renewal()


def _register_with_runtime() -> bool:
    """Registers the hook with Lambda's runtime when it is there; whether it was."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
    except ImportError:
        return False
    register_after_restore(renew_after_restore)
    return True


REGISTERED_WITH_RUNTIME = _register_with_runtime()
