"""Local gateway overhead: GET /receipts/{id} over HTTP against the same handler called directly.

Both sides run in one process against the same emulated backend (moto server), so the
DynamoDB read costs the same on both. The HTTP side adds what the local gateway does for every
request: HTTP parsing, the Cognito token check, routing, building the proxy event, the
function's isolation (environment and path) and the response. Rounds alternate between the two
sides, and the figure is the ratio of their medians.

Usage: python bench/local_stack.py [--requests N] [--json PATH]. Exits 1 if the ratio is 3 or more.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.runtime import LocalContext  # noqa: E402
from local.stack import LocalStack, StackConfig  # noqa: E402

LIMIT = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"

    stack = LocalStack(StackConfig(api_port=0, aws_port=0, run_schedules=False, log=lambda _: None)).start()
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
        claims = stack.running.gateway.authorizer.claims(f"Bearer {token}")
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
        handler = function._module.lambda_handler  # loaded by the create above

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
    if args.json:
        args.json.write_text(
            json.dumps({"direct_p50_ms": direct_p50 * 1000, "http_p50_ms": http_p50 * 1000, "ratio": ratio}, indent=2)
        )
    return 0 if ratio < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
