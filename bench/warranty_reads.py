"""Warranty checker reads: the index design against the spec's full scan, as the table grows.

For 1k, 10k and 50k receipts, with the same users and the same reminders due, this runs the
real warranty checker and a faithful implementation of the spec's design (scan the table for
user keys, then per user read the settings, query ByWarrantyExpiry, check and record each
reminder in the ledger) against the same moto table, in the same run. It reports the DynamoDB
items each one read (what DynamoDB bills, counted from the responses: scanned items, query
matches, items got), the calls made, and the wall time.

The reads are the measure. Wall time under moto is reported but is not DynamoDB's: moto answers
a GSI query by walking every item of the table, so here even an index query costs O(table).

Usage: python bench/warranty_reads.py [--sizes 1000,10000,50000] [--users 200] [--due 50] [--json PATH]
(Not warranty_checker.py: a script's own directory heads its path, so that name would hide the
function's package `warranty_checker`.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from environment import use_bench_environment

use_bench_environment()

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from local.cfn_template import load_template, table_definition  # noqa: E402
from local.inprocess import cold_start  # noqa: E402
from receipt_vault.dynamo import serialize  # noqa: E402
from receipt_vault.receipts.layout import new_receipt_item  # noqa: E402
from receipt_vault.receipts.models import ReceiptCreate  # noqa: E402

RUN = dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)
OFFSETS = (30, 7, 1)


class ReadMeter:
    """Counts the items DynamoDB reads for a client's calls, from the responses."""

    def __init__(self, client: Any) -> None:
        self.items = 0
        self.calls: Counter[str] = Counter()
        client.meta.events.register("after-call.dynamodb", self._count)

    def _count(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        if model.name in ("Query", "Scan"):
            self.items += parsed.get("ScannedCount", 0)
        elif model.name == "GetItem":
            self.items += 1 if "Item" in parsed else 0
        elif model.name == "BatchGetItem":
            self.items += sum(len(found) for found in parsed.get("Responses", {}).values())

    def reset(self) -> None:
        self.items = 0
        self.calls.clear()


def load_checker(table_name: str) -> Any:
    """A cold start of the warranty checker, on `table_name`."""
    os.environ["TABLE_NAME"] = table_name
    return cold_start("warranty_checker")


def seed(table_name: str, receipts: int, users: int, due: int) -> None:
    """`users` users with settings; `due` of them own one warranty that is due today; the
    other receipts have warranties ending on days no reminder falls on, or none."""
    client = boto3.client("dynamodb")
    sns = boto3.client("sns")
    application = sns.create_platform_application(
        Name="receiptvault-bench-fcm", Platform="GCM", Attributes={"PlatformCredential": "k"}
    )["PlatformApplicationArn"]
    today = RUN.date()
    # Beyond the largest allowed offset (90 days): no reminder falls on these.
    quiet_days = [today + dt.timedelta(days=days) for days in range(120, 1100)]
    generator = random.Random(7)  # reproducible data
    created = RUN - dt.timedelta(days=10)
    items: list[dict[str, Any]] = []
    for index in range(users):
        user = f"user-{index:05d}"
        devices = {}
        if index < due:
            arn = sns.create_platform_endpoint(PlatformApplicationArn=application, Token=f"t-{user}")["EndpointArn"]
            devices = {str(uuid.uuid4()): {"platform": "android", "endpointArn": arn, "registeredAt": "x"}}
        items.append(
            {
                "PK": f"USER#{user}",
                "SK": "META#SETTINGS",
                "reminderDaysBefore": list(OFFSETS),
                "timezone": "Europe/Berlin",
                "devices": devices,
            }
        )
    for index in range(receipts):
        user = f"user-{index % users:05d}"
        if index < due:  # the due ones: 7 days left
            expiry = today + dt.timedelta(days=7)
        elif index % 4 == 0:
            expiry = None  # no warranty
        else:
            expiry = generator.choice(quiet_days)
        fields: dict[str, Any] = {"storeName": f"Store {index % 97}", "purchaseDate": "2026-01-15"}
        if expiry:
            fields.update(warrantyExpiryDate=expiry.isoformat(), userEditedFields=["warrantyExpiryDate"])
        items.append(new_receipt_item(user, str(uuid.UUID(int=index)), ReceiptCreate(**fields), created))
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": serialize(item)}} for item in items[start : start + 25]]
        client.batch_write_item(RequestItems={table_name: batch})


def spec_full_scan_run(client: Any, sns: Any, table_name: str) -> int:
    """The spec's design: scan for every user key, then per user its settings, its warranties
    in the reminder windows (ByWarrantyExpiry), and a ledger check and record per reminder."""
    today = RUN.date()
    users: set[str] = set()
    for page in client.get_paginator("scan").paginate(TableName=table_name, ProjectionExpression="PK"):
        users.update(item["PK"]["S"] for item in page["Items"])
    sent = 0
    for user_pk in sorted(users):
        settings = client.get_item(TableName=table_name, Key={"PK": {"S": user_pk}, "SK": {"S": "META#SETTINGS"}})
        settings = settings.get("Item", {})
        offsets = [int(value["N"]) for value in settings.get("reminderDaysBefore", {}).get("L", [])]
        devices = settings.get("devices", {}).get("M", {})
        if not offsets:
            continue
        horizon = (today + dt.timedelta(days=max(offsets))).isoformat() + "#\uffff"
        warranties = client.query(
            TableName=table_name,
            IndexName="ByWarrantyExpiry",
            KeyConditionExpression="warrantyPK = :pk AND warrantySK BETWEEN :from AND :to",
            ExpressionAttributeValues={
                ":pk": {"S": f"{user_pk}#ACTIVE"},
                ":from": {"S": today.isoformat()},
                ":to": {"S": horizon},
            },
        )["Items"]
        for warranty in warranties:
            expiry = dt.date.fromisoformat(warranty["warrantyExpiryDate"]["S"])
            offset = (expiry - today).days
            if offset not in offsets:
                continue
            # Its own ledger prefix, so that the two designs do not see each other's records.
            ledger_sk = f"SPEC-NOTIF#{warranty['receiptId']['S']}#{offset}#{expiry}"
            ledger_key = {"PK": {"S": user_pk}, "SK": {"S": ledger_sk}}
            if "Item" in client.get_item(TableName=table_name, Key=ledger_key):
                continue
            for device in devices.values():
                sns.publish(TargetArn=device["M"]["endpointArn"]["S"], Message="reminder")
            client.put_item(TableName=table_name, Item={**ledger_key, "state": {"S": "sent"}})
            sent += 1
    return sent


def measure(receipts: int, users: int, due: int) -> dict[str, Any]:
    with mock_aws():
        table_name = f"bench-{uuid.uuid4().hex[:8]}"
        client = boto3.client("dynamodb")
        client.create_table(**table_definition(load_template(), "ReceiptVaultTable", table_name))
        seed(table_name, receipts, users, due)
        checker = load_checker(table_name)
        meter = ReadMeter(checker.table.client)

        started = time.perf_counter()
        report = checker.checker.run(RUN, lambda: 60.0)
        index_seconds = time.perf_counter() - started
        index_reads, index_calls = meter.items, sum(meter.calls.values())
        assert report.sent == due and not report.incomplete, report  # noqa: S101

        scan_client = boto3.client("dynamodb")
        scan_meter = ReadMeter(scan_client)
        started = time.perf_counter()
        scan_sent = spec_full_scan_run(scan_client, boto3.client("sns"), table_name)
        scan_seconds = time.perf_counter() - started
        assert scan_sent == due  # noqa: S101 - both designs find the same reminders
    return {
        "receipts": receipts,
        "due": due,
        "index": {"items_read": index_reads, "calls": index_calls, "seconds": index_seconds},
        "scan": {"items_read": scan_meter.items, "calls": sum(scan_meter.calls.values()), "seconds": scan_seconds},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--due", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [measure(int(size), args.users, args.due) for size in args.sizes.split(",")]
    print(
        f"Warranty checker, {args.users} users, {args.due} reminders due, in-process moto, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores\n"
    )
    print(
        "| receipts | index: items read | index: calls | index: s | full scan: items read | full scan: calls "
        "| full scan: s | reads, scan ÷ index |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        index, scan = result["index"], result["scan"]
        print(
            f"| {result['receipts']:,} | {index['items_read']:,} | {index['calls']:,} | {index['seconds']:.2f} "
            f"| {scan['items_read']:,} | {scan['calls']:,} | {scan['seconds']:.2f} "
            f"| {scan['items_read'] / index['items_read']:.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
