"""Run the template's functions as Lambda does: each concurrent invocation in an execution
environment of its own.

An environment is a worker process (local/worker.py) forked from one fork server that has
imported the common libraries, loaded with one function: its code, its layers, its variables and
its role. It serves one invocation at a time and stays warm for the next, so module state lives
as long as the environment and is never shared with another one. Like Lambda:

- concurrent requests to one function run in parallel, in as many environments as are busy;
- `ReservedConcurrentExecutions` caps the function's busy environments: a synchronous call
  beyond it is throttled (TooManyRequestsError, which the gateway turns into API Gateway's
  response to a throttled Lambda), asynchronous and queue work waits for an environment;
- a function that runs past its Timeout is stopped and its environment discarded, and an
  environment whose process dies takes no further invocations;
- a change to a function's source or to one of its layers is picked up by the next invocation:
  environments loaded with older code are retired as they become idle.

A function without reserved concurrency runs at most `unreserved_limit` environments at once
(a laptop is not Lambda's fleet); further calls wait for one instead of being throttled.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local.cfn_template import Template
    from local.iam.policy import RolePolicies
    from receipt_vault.shapes import JsonObject, JsonValue

UNRESERVED_LIMIT = 10
INIT_TIMEOUT_SECONDS = 60  # generous: a cold start on a loaded laptop, not Lambda's 10 s
PROJECT_ROOT = Path(__file__).resolve().parent.parent


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


class FunctionError(Exception):
    """The function failed: Lambda's error payload (errorType, errorMessage, stackTrace)."""

    def __init__(self, payload: JsonObject) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


class TooManyRequestsError(Exception):
    """Lambda's TooManyRequestsException for a synchronous call beyond reserved concurrency."""

    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"

    def __init__(self, function_name: str) -> None:
        super().__init__(f"Rate Exceeded. ({function_name}: {self.reason})")


@dataclass(frozen=True)
class EnvironmentSpec:
    """Everything a worker needs to become the function's sandbox; it crosses to the worker."""

    logical_id: str
    function_name: str
    arn: str
    code_dir: Path
    handler: str
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int
    region: str
    account_id: str
    role: RolePolicies | None = None  # every AWS call is checked against it
    setups: tuple[str, ...] = ()  # "module:function" run with the loaded handler module (fault injection)
    hidden_paths: tuple[Path, ...] = ()  # the project's entries on sys.path, which Lambda does not have
    source_root: Path | None = None  # the functions' and layers' sources, imported only from their own dirs

    def runtime_variables(self) -> dict[str, str]:
        return {
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "_HANDLER": self.handler,
            "TZ": "UTC",
        }


class _Zygote:
    """The process environments are forked from (local/worker.py), started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def fork(self) -> tuple[int, Connection]:
        """A new environment's pid and the stack's end of its pipe."""
        ours, theirs = socket.socketpair()
        with self._lock:
            control = self._started()
            socket.send_fds(control, [b"f"], [theirs.fileno()])
            theirs.close()
            answer = b""
            while len(answer) < 8:
                chunk = control.recv(8 - len(answer))
                if not chunk:
                    raise RuntimeError("the environment zygote has exited")
                answer += chunk
        return int.from_bytes(answer, "big"), Connection(ours.detach())

    def _started(self) -> socket.socket:
        if self._control is None or self._process is None or self._process.poll() is not None:
            control, child = socket.socketpair()
            self._process = subprocess.Popen(  # noqa: S603 (this interpreter, the project's module)
                [sys.executable, "-m", "local.worker", str(child.fileno())],
                pass_fds=(child.fileno(),),
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
            )
            child.close()
            self._control = control
            atexit.register(self.stop)
        return self._control

    def stop(self) -> None:
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None
            if self._process is not None:
                self._process.wait(timeout=5)
                self._process = None


_ZYGOTE = _Zygote()


def _source_fingerprint(directories: list[Path]) -> tuple[float, int]:
    latest, count = 0.0, 0
    for directory in directories:
        for path in directory.rglob("*.py"):
            count += 1
            latest = max(latest, path.stat().st_mtime)
    return latest, count


class ExecutionEnvironment:
    """A warm worker process holding one function's code."""

    def __init__(self, spec: EnvironmentSpec, generation: int) -> None:
        self.spec = spec
        self.generation = generation
        self.invocations = 0
        self.pid, self._connection = _ZYGOTE.fork()
        self._connection.send(spec)
        self._exited = False
        self.init_ms = 0.0
        kind, detail = self._receive(INIT_TIMEOUT_SECONDS, init=True)
        if kind != "ready":
            self.stop()
            raise FunctionError(detail)
        self.init_ms = float(detail)

    @property
    def alive(self) -> bool:
        return not self._exited

    def invoke(self, event: JsonValue) -> JsonValue:
        request_id = str(uuid.uuid4())
        self.invocations += 1
        self._connection.send((json.dumps(event), request_id, os.environ.get("CLOCK_OFFSET_DAYS")))
        kind, detail = self._receive(self.spec.timeout_seconds)
        if kind == "error":
            raise FunctionError(detail)
        return json.loads(detail)

    def _receive(self, timeout: float, init: bool = False) -> tuple[str, JsonValue]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                ready = self._connection.poll(max(0.0, remaining))
                message = self._connection.recv() if ready else None
            except (EOFError, OSError):
                self.stop()
                return "error", {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": "Runtime exited without providing a reason",
                    "stackTrace": [],
                }
            if message is None:
                self.stop(kill=True)
                phase = "Init" if init else "Task"
                return "error", {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"{phase} timed out after {timeout:.2f} seconds",
                    "stackTrace": [],
                }
            if message[0] == "log":
                stream = sys.stderr if message[1] == "stderr" else sys.stdout
                stream.write(message[2])
                continue
            return message[0], message[1]

    def stop(self, kill: bool = False) -> None:
        """Shut the environment down: asked to, or killed (timed out, or not answering)."""
        if self._exited:
            return
        self._exited = True
        exited = False
        if not kill:
            try:
                self._connection.send(None)
                exited = self._connection.poll(2)  # readable (EOF) once the process has exited
            except OSError:
                exited = True
        if not exited:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self._connection.close()


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
    events: dict[str, Template] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    unreserved_limit: int = UNRESERVED_LIMIT
    region: str = "eu-west-1"
    account_id: str = "123456789012"
    role: RolePolicies | None = None
    hidden_paths: tuple[Path, ...] = ()
    source_root: Path | None = None
    setups: tuple[str, ...] = ()
    _idle: list[ExecutionEnvironment] = field(default_factory=list, repr=False)
    _busy: int = field(default=0, repr=False)
    _generation: int = field(default=0, repr=False)
    _fingerprint: tuple[tuple[float, int], tuple[float, int]] | None = field(default=None, repr=False)
    _condition: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def concurrency_limit(self) -> int:
        return self.reserved_concurrency if self.reserved_concurrency is not None else self.unreserved_limit

    @property
    def spec(self) -> EnvironmentSpec:
        return EnvironmentSpec(
            logical_id=self.logical_id,
            function_name=self.function_name,
            arn=self.arn,
            code_dir=self.code_dir,
            handler=self.handler,
            layer_dirs=tuple(self.layer_dirs),
            environment=dict(self.environment),
            timeout_seconds=self.timeout_seconds,
            memory_mb=self.memory_mb,
            region=self.region,
            account_id=self.account_id,
            role=self.role,
            setups=self.setups,
            hidden_paths=self.hidden_paths,
            source_root=self.source_root,
        )

    # -- invocation ----------------------------------------------------------------------------

    def invoke(self, event: JsonValue, wait_for_capacity: bool = False) -> JsonValue:
        """One invocation in a free warm environment, or a new one. Without capacity, a
        synchronous call is throttled; `wait_for_capacity` (queues, async events) waits."""
        environment = self._acquire(wait_for_capacity)
        healthy = False
        try:
            if environment is None:
                environment = ExecutionEnvironment(self.spec, self._generation)
            result = environment.invoke(event)
            healthy = True
            return result
        except FunctionError:
            healthy = environment is not None and environment.alive
            raise
        finally:
            self._release(environment, healthy)

    def _acquire(self, wait_for_capacity: bool) -> ExecutionEnvironment | None:
        """A warm environment, or None when a new one may be started (the slot is taken)."""
        with self._condition:
            if self._stopped:
                raise RuntimeError(f"{self.logical_id}: the local stack is stopped")
            self._retire_if_source_changed()
            while self._busy >= self.concurrency_limit:
                reserved = self.reserved_concurrency is not None
                if reserved and (not wait_for_capacity or self.concurrency_limit == 0):
                    raise TooManyRequestsError(self.function_name)
                self._condition.wait()  # queued work, or the local limit of an unreserved function
            self._busy += 1
            while self._idle:
                environment = self._idle.pop()
                if environment.alive and environment.generation == self._generation:
                    return environment
                environment.stop()
            return None

    def _release(self, environment: ExecutionEnvironment | None, healthy: bool) -> None:
        with self._condition:
            self._busy -= 1
            if environment is not None:
                if healthy and not self._stopped and environment.generation == self._generation:
                    self._idle.append(environment)
                else:
                    environment.stop()
            self._condition.notify()

    def _retire_if_source_changed(self) -> None:
        fingerprint = (_source_fingerprint([self.code_dir]), _source_fingerprint(self.layer_dirs))
        if self._fingerprint is not None and fingerprint != self._fingerprint:
            self._generation += 1
            for environment in self._idle:
                environment.stop()
            self._idle.clear()
        self._fingerprint = fingerprint

    # -- lifecycle and observation -------------------------------------------------------------

    @property
    def warm_environments(self) -> int:
        with self._condition:
            return len(self._idle)

    def retire_environments(self) -> None:
        """The next invocations start cold (busy environments retire when they finish)."""
        with self._condition:
            self._generation += 1
            for environment in self._idle:
                environment.stop()
            self._idle.clear()

    @contextmanager
    def patched(self, *setups: str) -> Iterator[None]:
        """Environments started inside run `setups` ("module:function", given the handler's
        module) after loading: a fault injected into the function as deployed code would hold it."""
        saved = self.setups
        self.setups = (*saved, *setups)
        self.retire_environments()
        try:
            yield
        finally:
            self.setups = saved
            self.retire_environments()

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            for environment in self._idle:
                environment.stop()
            self._idle.clear()
            self._condition.notify_all()
