"""The emulated AWS services in a process of their own, as a benchmark's server.

In AWS, DynamoDB does its work on its own machines: a function waits for an answer, but spends
no CPU of its own on it. moto in the function's process (`mock_aws`) does its work under the
function's GIL, so a benchmark of concurrent calls would measure moto's CPU as the function's.
Here moto runs as a server in another process (loopback HTTP), with the local stack's DynamoDB
fidelity patches, so that the function's process only pays its own work, as it does on Lambda.

`python bench/aws_process.py` prints the server's port, then serves until its stdin closes.
A benchmark starts it with `aws_in_another_process()`.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script, or imported by one: bench/ is on the path
    from environment import child_environment, use_bench_environment
else:  # imported as bench.aws_process (tests/bench)
    from bench.environment import child_environment, use_bench_environment


@contextlib.contextmanager
def aws_in_another_process() -> Iterator[dict[str, str]]:
    """The endpoint variables of a fresh moto server in a child process (every service, and
    DynamoDB's own), stopped on exit."""
    server = subprocess.Popen(  # this interpreter, this file
        [sys.executable, str(Path(__file__).resolve())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_environment(),
        text=True,
    )
    try:
        assert server.stdout is not None  # noqa: S101  # a pipe, as asked
        said = server.stdout.readline()
        ports = said.split()
        if len(ports) != 2 or not all(port.isdigit() for port in ports):
            raise RuntimeError(f"the AWS server process did not start (it said {said!r})")
        yield {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{ports[0]}",
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{ports[1]}",
        }
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _serve() -> None:
    use_bench_environment()
    import logging
    import threading

    from moto.moto_server.werkzeug_app import create_backend_app
    from moto.server import ThreadedMotoServer
    from waitress.server import create_server

    from local.emulation import (
        make_dynamodb_items_linear_to_build,
        make_dynamodb_queries_read_one_partition,
        make_dynamodb_requests_atomic,
    )

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    make_dynamodb_requests_atomic()  # each request applied whole, as DynamoDB does
    make_dynamodb_queries_read_one_partition()  # a Query costs its partition, not the table
    make_dynamodb_items_linear_to_build()  # an item's size checked once, not once per attribute
    every_service = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    every_service.start()
    # DynamoDB's own endpoint, as in AWS: moto's dispatcher, which finds the service of each
    # request by matching every service's URL patterns, would cost more than the call. waitress
    # keeps connections open, as botocore does with DynamoDB; werkzeug closes each one.
    dynamodb = create_server(create_backend_app("dynamodb"), host="127.0.0.1", port=0, threads=16)
    threading.Thread(target=dynamodb.run, daemon=True).start()
    print(every_service.get_host_and_port()[1], dynamodb.effective_port, flush=True)
    sys.stdin.read()  # until the benchmark closes the pipe (or exits)
    dynamodb.close()
    every_service.stop()


if __name__ == "__main__":
    _serve()
