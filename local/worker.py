"""Lambda execution environments: processes that each load one function and run its invocations.

`python -m local.worker <fd>` is the stack's zygote: it imports the libraries every function
uses (boto3, Powertools) once, then forks an environment whenever the stack sends it
one end of a pipe. A cold start so costs what the function's own code costs. (multiprocessing's
fork server would re-import the parent's main module into every environment.) Each environment
then becomes the function's sandbox, as Lambda builds it:

- the process environment is the function's variables and the Lambda runtime's, nothing of the
  developer's shell (no AWS profile, no stray variables), with TZ=UTC as in Lambda;
- `sys.path` is the function's code directory, then its layers, then the libraries: the
  project's own source tree is not importable, so a missing layer fails here as it would deployed;
- every AWS call is checked against the function's role (local/iam.py) when the stack gives one;
- what the function writes to stdout or stderr goes back to the stack, line by line.

Requests and results cross the pipe as JSON, as Lambda serialises them: a handler that returns
something JSON cannot encode (a Decimal, a datetime) fails with Runtime.MarshalError here too.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection

# Preloaded by the fork server: what every function imports, so that each cold start pays only
# for the function's own modules. They read no configuration at import.
import boto3  # noqa: F401
import botocore.session  # noqa: F401
from aws_lambda_powertools import Logger, Metrics  # noqa: F401

import receipt_vault.rest  # every API function's resolver
import receipt_vault.validation  # noqa: F401  # every API function's models
from local.runtime import EnvironmentSpec, LocalContext
from receipt_vault.shapes import JsonObject, JsonValue

# The variables Lambda's runtime sets, besides the function's own.
_RUNTIME_VARIABLES = ("PATH", "LANG", "LD_LIBRARY_PATH", "HOME", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED")


class _LineForwarder(io.TextIOBase):
    """A stream that sends each complete line to the stack, as Lambda ships lines to CloudWatch."""

    def __init__(self, connection: Connection, stream: str) -> None:
        self._connection = connection
        self._stream = stream
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            complete, self._pending = self._pending.rsplit("\n", 1)
            self._connection.send(("log", self._stream, complete + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._connection.send(("log", self._stream, self._pending))
            self._pending = ""


def _become_sandbox(spec: EnvironmentSpec) -> None:
    kept = {name: os.environ[name] for name in _RUNTIME_VARIABLES if name in os.environ}
    os.environ.clear()
    os.environ.update(kept)
    os.environ.update(spec.runtime_variables())
    os.environ.update(spec.environment)
    time.tzset()
    hidden = {str(path) for path in spec.hidden_paths}
    libraries = [path for path in sys.path if path and os.path.abspath(path) not in hidden]
    sys.path[:] = [str(spec.code_dir), *(str(layer) for layer in spec.layer_dirs), *libraries]
    # What the zygote had imported of the project: the functions' and layers' code, which must
    # come from the function's own directories, and this package, which Lambda does not have.
    # (What runs here keeps its references; the function just cannot import them.)
    for name, module in list(sys.modules.items()):
        under_source = spec.source_root is not None and (getattr(module, "__file__", None) or "").startswith(
            str(spec.source_root)
        )
        if under_source or name == "local" or name.startswith("local."):
            del sys.modules[name]


def _guard_calls(spec: EnvironmentSpec) -> None:
    if spec.role is None:
        return
    from local import iam

    iam.install()
    iam.bind_process(iam.RoleGuard(spec.role, spec.function_name, spec.region, spec.account_id))


def _load_handler(spec: EnvironmentSpec) -> Callable[[JsonValue, LocalContext], JsonValue]:
    """The handler, imported as Lambda's runtime interface client imports it: `package.module`
    from the code directory at the head of sys.path."""
    module_name, function_name = spec.handler.rsplit(".", 1)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        raise ImportError(f"Unable to import module '{module_name}': {missing}") from missing
    for setup in spec.setups:  # fault injection for tests: "package.module:function", given the module
        sys.path.extend(str(path) for path in spec.hidden_paths)
        try:
            setup_module, setup_function = setup.split(":")
            getattr(importlib.import_module(setup_module), setup_function)(module)
        finally:
            del sys.path[len(sys.path) - len(spec.hidden_paths) :]
    handler: Callable[[JsonValue, LocalContext], JsonValue] = getattr(module, function_name)
    return handler


def _error(error_type: str, message: str, trace: list[str] | None = None) -> JsonObject:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": trace or []}


def serve(connection: Connection, spec: EnvironmentSpec) -> None:
    """The environment's life: init once, then one invocation at a time until told to stop."""
    sys.stdout = _LineForwarder(connection, "stdout")
    sys.stderr = _LineForwarder(connection, "stderr")
    started = time.perf_counter()
    try:
        _guard_calls(spec)
        _become_sandbox(spec)
        handler = _load_handler(spec)
    except Exception as error:
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()
        connection.send(("init-error", _error("Runtime.ImportModuleError", f"{type(error).__name__}: {error}")))
        return
    connection.send(("ready", (time.perf_counter() - started) * 1000))
    while True:
        request = connection.recv()
        if request is None:
            return
        event_json, request_id, clock_offset_days = request
        if clock_offset_days is None:
            os.environ.pop("CLOCK_OFFSET_DAYS", None)
        else:
            os.environ["CLOCK_OFFSET_DAYS"] = clock_offset_days
        context = LocalContext(spec.function_name, spec.memory_mb, spec.arn, spec.timeout_seconds, request_id)
        outcome: tuple[str, JsonObject | str]
        try:
            result = handler(json.loads(event_json), context)
        except Exception as error:
            trace = traceback.format_tb(error.__traceback__)
            sys.stderr.write(f"[ERROR] {type(error).__name__}: {error}\n{''.join(trace)}")
            outcome = ("error", _error(type(error).__name__, str(error), trace))
        else:
            try:
                outcome = ("result", json.dumps(result))
            except (TypeError, ValueError) as error:
                outcome = ("error", _error("Runtime.MarshalError", f"Unable to marshal response: {error}"))
        sys.stdout.flush()
        sys.stderr.flush()
        connection.send(outcome)


def zygote(control: socket.socket) -> None:
    """Fork an environment for each pipe end received; answer with its pid. Exits with the stack."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # environments are reaped as they exit
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 16, 1)
        except OSError:
            return
        if not fds:  # the stack closed the control socket: it has stopped or died
            return
        pid = os.fork()
        if pid == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            connection = Connection(fds[0])
            try:
                serve(connection, connection.recv())
            finally:
                os._exit(0)
        os.close(fds[0])
        control.sendall(pid.to_bytes(8, "big"))


if __name__ == "__main__":
    zygote(socket.socket(fileno=int(sys.argv[1])))
