"""The local stack's cost and its parallelism, against baselines from the same run.

1. Gateway overhead: GET /receipts/{id} over HTTP against the same handler called directly in
   this process. Both read the same emulated table (moto server), so the DynamoDB read costs the
   same on both. The HTTP side adds what the local stack does for every request: HTTP parsing,
   the Cognito token check, routing, the proxy event, the hop to the function's execution
   environment (a worker process) and the response. Rounds alternate between the two sides, and
   the figure is the ratio of their medians.
2. Throughput of N parallel clients against one client, each on its own keep-alive connection:
   the requests of the N clients run in parallel execution environments, so the ratio shows how
   much the stack serves at once (bounded by the machine's cores, as moto serves all of them).

Usage: python bench/local_stack.py [--requests N] [--clients N] [--json PATH]. Exits 1 if the
gateway ratio is 3 or more, or if N clients get no more health answers a second than one does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from environment import use_bench_environment

use_bench_environment(POWERTOOLS_LOG_LEVEL="WARNING")

from local.inprocess import cold_start  # noqa: E402
from local.runtime import LocalContext  # noqa: E402
from local.stack import LOCAL_PARAMETERS, LocalStack, StackConfig  # noqa: E402

LIMIT = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    parameters = {**LOCAL_PARAMETERS, "LogLevel": "WARNING"}
    config = StackConfig(
        api_port=0, aws_port=0, stage_throttling=False, run_schedules=False, log=lambda _: None, parameters=parameters
    )
    stack = LocalStack(config).start()
    try:
        token = stack.access_token()
        host, port = stack.api_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port))
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection.request(
            "POST", "/receipts", body=json.dumps({"storeName": "Bench", "totalAmount": "1.00"}), headers=headers
        )
        response = connection.getresponse()
        receipt_id = json.loads(response.read())["receiptId"]
        path = f"/receipts/{receipt_id}"

        function = stack.functions["ReceiptCrudFunction"]
        gateway = stack.running.gateway
        assert gateway is not None  # noqa: S101
        claims = gateway.authorizer.claims(f"Bearer {token}", frozenset({"aws.cognito.signin.user.admin"}))
        event = {
            "resource": "/receipts/{receiptId}",
            "path": path,
            "httpMethod": "GET",
            "headers": headers,
            "multiValueHeaders": {},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": {"receiptId": receipt_id},
            "stageVariables": None,
            "body": None,
            "isBase64Encoded": False,
            "requestContext": {
                "requestId": "bench",
                "stage": "dev",
                "resourcePath": "/receipts/{receiptId}",
                "httpMethod": "GET",
                "identity": {"sourceIp": "127.0.0.1"},
                "authorizer": {"claims": claims},
            },
        }
        handler = _load_in_process(function)

        def over_http() -> float:
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            reply = connection.getresponse()
            reply.read()
            assert reply.status == 200, reply.status  # noqa: S101 (a benchmark of a failing call means nothing)
            return time.perf_counter() - started

        def direct() -> float:
            started = time.perf_counter()
            result: dict[str, Any] = handler(event, LocalContext(function.function_name, 256, function.arn, 10))
            assert result["statusCode"] == 200, result  # noqa: S101
            return time.perf_counter() - started

        http_samples: list[float] = []
        direct_samples: list[float] = []
        for _ in range(10):  # warm-up
            over_http(), direct()
        for _ in range(args.requests // 20):
            http_samples += [over_http() for _ in range(10)]
            direct_samples += [direct() for _ in range(10)]
        throughput = {
            route: (
                _throughput(stack.api_url, route_path, headers, clients=1, requests=args.requests),
                _throughput(stack.api_url, route_path, headers, clients=args.clients, requests=args.requests),
            )
            for route, route_path in (("GET /health", "/health"), ("GET /receipts/{id}", path))
        }
    finally:
        stack.stop()

    http_p50, direct_p50 = statistics.median(http_samples), statistics.median(direct_samples)
    ratio = http_p50 / direct_p50
    print(
        f"Local gateway overhead, {len(http_samples)} requests a side, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores\n"
    )
    print("| path | p50 (ms) |")
    print("|---|---|")
    print(f"| handler invoked directly | {direct_p50 * 1000:.2f} |")
    print(f"| GET /receipts/{{id}} through the local gateway (HTTP) | {http_p50 * 1000:.2f} |")
    print(f"\nratio: {ratio:.2f} (limit {LIMIT})")
    print(f"\n| route | 1 client (requests/s) | {args.clients} clients (requests/s) | ratio |\n|---|---|---|---|")
    for route, (one, many) in throughput.items():
        print(f"| {route} | {one:.0f} | {many:.0f} | {many / one:.2f} |")
    # Health touches no AWS service: its requests run in parallel environments end to end. A
    # receipt read is bounded by the emulator, which serves every request in this one process.
    health_one, health_many = throughput["GET /health"]
    if args.json:
        figures = {
            "direct_p50_ms": direct_p50 * 1000,
            "http_p50_ms": http_p50 * 1000,
            "ratio": ratio,
            "clients": args.clients,
            "throughput": {route: {"one": one, "many": many} for route, (one, many) in throughput.items()},
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if ratio < LIMIT and health_many > health_one else 1


def _load_in_process(function: Any) -> Any:
    """The function's handler, a cold start of it in this process (local.inprocess) with the
    variables the stack gives its environments: the same emulated table, the same settings."""
    os.environ.update(function.environment)
    package, module, handler = function.handler.split(".")  # receipt_crud.app.lambda_handler
    return getattr(cold_start(package, module), handler)


# The clients run in a process of their own, as an app's would: in the stack's process their
# threads would compete with the gateway's for one interpreter lock.
_CLIENTS = """
import http.client, json, sys, time
from concurrent.futures import ThreadPoolExecutor
host, port, path, headers, clients, requests = sys.argv[1:]
headers, clients, requests = json.loads(headers), int(clients), int(requests)

def client(count):
    connection = http.client.HTTPConnection(host, int(port))
    for _ in range(count):
        connection.request("GET", path, headers=headers)
        reply = connection.getresponse()
        reply.read()
        assert reply.status == 200, reply.status
    connection.close()

with ThreadPoolExecutor(clients) as pool:  # warm, in parallel: every environment the clients use
    list(pool.map(client, [20] * clients))
started = time.perf_counter()
with ThreadPoolExecutor(clients) as pool:
    list(pool.map(client, [requests // clients] * clients))
print((requests // clients * clients) / (time.perf_counter() - started))
"""


def _throughput(api_url: str, path: str, headers: dict[str, str], clients: int, requests: int) -> float:
    """Requests per second of `clients` threads, each on its own connection, `requests` in all."""
    host, port = api_url.removeprefix("http://").split(":")
    arguments = [host, port, path, json.dumps(headers), str(clients), str(requests)]
    done = subprocess.run([sys.executable, "-c", _CLIENTS, *arguments], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


if __name__ == "__main__":
    sys.exit(main())
