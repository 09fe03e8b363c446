"""boto3 clients created on first use: for services only some invocations call."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class LazyClient:
    """Creates the client on the first call to any of its methods, then keeps it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._create = functools.cache(factory)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._create(), name)
