"""Run the template's functions in-process, each as its own Lambda would see itself.

Isolation: every function's handler module is imported under a unique name, with its code
directory and its layers first on `sys.path`, and with its own environment variables overlaid
on the process environment while it imports and while it runs. Modules loaded from a
function's own directory are dropped from `sys.modules` afterwards, so two functions'
`app.py` (or any helper of the same name) never collide.

Invocations are serialised by one lock. The environment is process-wide, and Lambda runs each
concurrent request in its own sandbox anyway, so serialising keeps every invocation's view of
its environment exact. Source changes in a function or a layer are picked up on the next
invocation, without a restart.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

INVOKE_LOCK = threading.RLock()


@dataclass
class LocalContext:
    """The Lambda context object handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextmanager
def environment_overlay(variables: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _source_fingerprint(directories: list[Path]) -> tuple[float, int]:
    latest, count = 0.0, 0
    for directory in directories:
        for path in directory.rglob("*.py"):
            count += 1
            latest = max(latest, path.stat().st_mtime)
    return latest, count


@dataclass
class LocalFunction:
    logical_id: str
    function_name: str
    arn: str
    code_dir: Path
    handler: str
    layer_dirs: list[Path]
    environment: dict[str, str]
    timeout_seconds: int = 3
    memory_mb: int = 128
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    _module: ModuleType | None = field(default=None, repr=False)
    _code_fingerprint: tuple[float, int] | None = field(default=None, repr=False)
    _layer_fingerprint: tuple[float, int] | None = field(default=None, repr=False)

    @property
    def _search_path(self) -> list[str]:
        return [str(self.code_dir), *(str(layer) for layer in self.layer_dirs)]

    @contextmanager
    def _sandbox(self) -> Iterator[None]:
        saved_path = list(sys.path)
        sys.path[:0] = self._search_path
        try:
            with environment_overlay(self.environment):
                yield
        finally:
            sys.path[:] = saved_path
            self._forget_own_modules()

    def _forget_own_modules(self) -> None:
        own = str(self.code_dir)
        for name, module in list(sys.modules.items()):
            if name != self._module_name and (getattr(module, "__file__", None) or "").startswith(own):
                del sys.modules[name]

    @property
    def _module_name(self) -> str:
        return f"local_function_{self.logical_id}"

    def _load(self) -> ModuleType:
        module_file, _ = self.handler.rsplit(".", 1)
        path = self.code_dir / f"{module_file.replace('.', '/')}.py"
        spec = importlib.util.spec_from_file_location(self._module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[self._module_name] = module  # as an import would: pydantic resolves annotations through it
        with self._sandbox():
            spec.loader.exec_module(module)
        return module

    def _reload_if_changed(self) -> None:
        code = _source_fingerprint([self.code_dir])
        layers = _source_fingerprint(self.layer_dirs)
        if self._module is not None and layers != self._layer_fingerprint:
            _forget_layer_modules(self.layer_dirs)  # shared layer code changed: import it afresh
        if self._module is None or code != self._code_fingerprint or layers != self._layer_fingerprint:
            self._module = self._load()
        self._code_fingerprint, self._layer_fingerprint = code, layers

    def invoke(self, event: Any) -> Any:
        with INVOKE_LOCK:
            self._reload_if_changed()
            handler = getattr(self._module, self.handler.rsplit(".", 1)[1])
            context = LocalContext(self.function_name, self.memory_mb, self.arn, self.timeout_seconds)
            with self._sandbox():
                return handler(event, context)


def _forget_layer_modules(layer_dirs: list[Path]) -> None:
    """A changed layer must be imported afresh; the next handler import loads it again."""
    prefixes = tuple(str(layer) for layer in layer_dirs)
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(prefixes):
            del sys.modules[name]
