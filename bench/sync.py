"""Sync throughput: push and pull of N receipts, against a plain PutItem loop of the same items.

Everything runs in-process against moto (no network), so the figures compare the sync engine's
own work (validation, one BatchGetItem per push, conditional writes, index queries, BatchGetItem
per page) with the cheapest possible way of storing the same items. Runs alternate; figures are
medians.

Usage: python bench/sync.py [--receipts N] [--runs R] [--json PATH]
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
from moto import mock_aws  # noqa: E402

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


def run_once(count: int) -> dict[str, float]:
    with mock_aws():
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
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = [run_once(args.receipts) for _ in range(args.runs)]
    figures = {name: statistics.median(run[name] for run in runs) for name in ("baseline", "push", "pull")}
    print(
        f"Sync throughput, {args.receipts} receipts, median of {args.runs} runs, in-process moto, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores\n"
    )
    print("| operation | items per second | ratio to the PutItem loop |")
    print("|---|---|---|")
    print(f"| plain PutItem loop (baseline) | {figures['baseline']:.0f} | 1.00 |")
    print(f"| push, batches of 25 | {figures['push']:.0f} | {figures['push'] / figures['baseline']:.2f} |")
    print(f"| pull, pages of 100 | {figures['pull']:.0f} | {figures['pull'] / figures['baseline']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
