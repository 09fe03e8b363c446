"""Sync throughput: push and pull of N receipts, against a plain PutItem loop of the same items.

The figures compare the sync engine's own work (validation, one BatchGetItem per push,
conditional writes, index queries, BatchGetItem per page) with the cheapest possible way of
storing the same items. DynamoDB is moto, served from another process (bench/aws_process.py): in
AWS, DynamoDB's work is done on DynamoDB's machines, and a function only waits for it, where
moto in the function's process (`mock_aws`) would do it under the function's GIL and count it as
the function's CPU. Every AWS call, the baseline's as the engine's, also first waits one modelled
round trip (`--round-trip-ms`, 5 ms by default: a single-item call's latency inside one region),
a sleep that frees the GIL as a socket wait does. That wait is what push's concurrent writes
save. The run also measures with no modelled round trip (CPU only): what remains is the loopback
HTTP and the CPU of both processes, on this machine's cores. Runs alternate; figures are medians.
The targets apply with the round trip: push at least 2x the PutItem loop, pull at least 1x.

Usage: python bench/sync.py [--receipts N] [--runs R] [--round-trip-ms MS] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from environment import use_bench_environment

use_bench_environment(CORS_ALLOWED_ORIGINS="http://localhost", MAX_BATCH_SIZE="25")

import boto3  # noqa: E402
from aws_process import aws_in_another_process  # noqa: E402

from local.cfn_template import load_template, table_definition  # noqa: E402
from local.inprocess import cold_start  # noqa: E402
from receipt_vault.dynamo import serialize  # noqa: E402
from receipt_vault.receipts.layout import new_receipt_item  # noqa: E402
from receipt_vault.receipts.models import ReceiptCreate  # noqa: E402
from sync_handler.models import PullRequest, PushRequest  # noqa: E402


def receipt_bodies(count: int) -> list[dict[str, Any]]:
    return [
        {
            "receiptId": str(uuid.uuid4()),
            "storeName": f"Store {index % 40}",
            "purchaseDate": "2026-10-01",
            "totalAmount": f"{index % 500}.99",
            "currency": "EUR",
            "category": "Groceries",
            "items": [{"description": "Milk", "quantity": 2, "unitPrice": "1.09", "totalPrice": "2.18"}],
        }
        for index in range(count)
    ]


PUSH_TARGET = 2.0
PULL_TARGET = 1.0


def run_once(count: int, round_trip_seconds: float) -> dict[str, float]:
    with aws_in_another_process() as endpoints:
        os.environ.update(endpoints)  # for every client this process makes, the function's too
        # Before any client exists: each copies the default session's handlers when created.
        boto3.setup_default_session()
        if round_trip_seconds:
            boto3.DEFAULT_SESSION.events.register("before-call.*.*", lambda **_: time.sleep(round_trip_seconds))
        table_name = f"bench-{uuid.uuid4().hex[:8]}"
        client = boto3.client("dynamodb")
        client.create_table(**table_definition(load_template(), "ReceiptVaultTable", table_name))
        secret = boto3.client("secretsmanager").create_secret(Name=table_name, SecretString="k" * 64)["ARN"]
        os.environ.update(TABLE_NAME=table_name, PAGINATION_SECRET_ARN=secret)
        app = cold_start("sync_handler")  # a new execution environment, configured by the variables above

        bodies = receipt_bodies(count)
        started = time.perf_counter()
        now = dt.datetime.now(dt.UTC)
        for body in bodies:  # the baseline: the same items, stored one PutItem at a time
            client.put_item(
                TableName=table_name,
                Item=serialize(new_receipt_item("baseline", body["receiptId"], ReceiptCreate(**body), now)),
            )
        baseline = count / (time.perf_counter() - started)

        started = time.perf_counter()
        for start in range(0, count, 25):
            results = app.sync.push("device-user", PushRequest(items=bodies[start : start + 25]))["results"]
            assert all(result["outcome"] == "accepted" for result in results)  # noqa: S101
        push = count / (time.perf_counter() - started)

        started = time.perf_counter()
        pulled, cursor = 0, None
        while True:
            page = app.sync.pull("device-user", PullRequest(limit=100, cursor=cursor))
            pulled += len(page["items"])
            cursor = page["nextCursor"]
            if not cursor:
                break
        pull = pulled / (time.perf_counter() - started)
        assert pulled == count  # noqa: S101
    return {"baseline": baseline, "push": push, "pull": pull}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--round-trip-ms", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    models = {"round_trip": args.round_trip_ms / 1000, "cpu_only": 0.0}
    runs: dict[str, list[dict[str, float]]] = {model: [] for model in models}
    for _ in range(args.runs):  # alternating, so that drift touches both alike
        for model, seconds in models.items():
            runs[model].append(run_once(args.receipts, seconds))
    figures = {
        model: {name: statistics.median(run[name] for run in runs[model]) for name in ("baseline", "push", "pull")}
        for model in models
    }
    print(
        f"Sync throughput, {args.receipts} receipts, median of {args.runs} runs, moto in another process, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores\n"
    )
    print("| round trip per call | operation | items per second | ratio to the PutItem loop | target |")
    print("|---|---|---|---|---|")
    for model, label in (("round_trip", f"{args.round_trip_ms:g} ms"), ("cpu_only", "none (CPU only)")):
        figure = figures[model]
        print(f"| {label} | plain PutItem loop (baseline) | {figure['baseline']:.0f} | 1.00 | |")
        for name, operation, target in (
            ("push", "push, batches of 25", PUSH_TARGET),
            ("pull", "pull, pages of 100", PULL_TARGET),
        ):
            shown = f"≥ {target:.2f}" if model == "round_trip" else ""
            print(f"| {label} | {operation} | {figure[name]:.0f} | {figure[name] / figure['baseline']:.2f} | {shown} |")
    if args.json:
        args.json.write_text(json.dumps({"round_trip_ms": args.round_trip_ms, **figures}, indent=2))
    met = figures["round_trip"]
    return 0 if met["push"] >= PUSH_TARGET * met["baseline"] and met["pull"] >= PULL_TARGET * met["baseline"] else 1


if __name__ == "__main__":
    sys.exit(main())
