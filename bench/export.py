"""Export memory: peak RSS of the export handler for 100 and 1,000 receipts, each with a 1 MB image.

The AWS emulation (moto) runs as a separate server process, so its own memory (it holds every
image and part) is not counted. Each export runs in a fresh child process, which reports its
peak RSS (`ru_maxrss`) and the RSS it had before the build began. In the same run, a naive
build gives the baseline the streamed build is set against: the whole ZIP built in memory, as a
handler writing to a BytesIO (or to /tmp, which Lambda counts against the same budget) would.

Usage: python bench/export.py [--sizes 100,1000] [--image-bytes 1048576] [--json PATH]
Exits 1 if the streamed build's peak grows by more than 20% from the smallest to the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from environment import REGION, child_environment, use_bench_environment

use_bench_environment()

import boto3  # noqa: E402

from local.cfn_template import load_template, table_definition  # noqa: E402
from receipt_vault.dynamo import serialize  # noqa: E402
from receipt_vault.receipts.layout import new_receipt_item  # noqa: E402
from receipt_vault.receipts.models import ReceiptCreate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 1.20
USER = "bench-user"
IMAGES, EXPORTS, TABLE = "bench-images", "bench-exports", "ReceiptVault-bench"

CHILD = r"""
import io, json, os, resource, sys, time, zipfile
from export_handler import app  # the export handler, from PYTHONPATH and configured by the environment

def rss_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

before = rss_kb()
started = time.perf_counter()
if {naive!r}:  # the baseline: the whole archive built in memory (before any upload)
    buffer = io.BytesIO()
    builder = app.worker.builder
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for receipt in builder._receipts({user!r}, None, None):
            for key in receipt.get("imageKeys") or []:
                archive.writestr(key, builder.gateway.s3.get_object(Bucket={images!r}, Key=key)["Body"].read())
    size = buffer.tell()
else:
    job, _ = app.worker.jobs.create({user!r}, None, None, app.utc_now())
    outcome = app.worker.process({user!r}, job["exportId"], 1)
    assert outcome == "ready", outcome
    size = app.worker.jobs.get({user!r}, job["exportId"])["sizeBytes"]
print(json.dumps({{"before_kb": before, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "seconds": time.perf_counter() - started, "zip_bytes": int(size)}}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def export_environment(endpoint: str) -> dict[str, str]:
    """The export child's variables: the function's, against the moto server, with its code
    directory and the common layer on its path as Lambda puts them there."""
    return child_environment(
        PYTHONPATH=os.pathsep.join([str(ROOT / "src" / "export_handler"), str(ROOT / "src" / "layers" / "common")]),
        AWS_ENDPOINT_URL=endpoint,
        TABLE_NAME=TABLE,
        S3_BUCKET=IMAGES,
        EXPORT_BUCKET=EXPORTS,
        KMS_KEY_ID="alias/aws/s3",
        POWERTOOLS_SERVICE_NAME="export-handler",
    )


def seed(endpoint: str, receipts: int, image_bytes: int) -> None:
    dynamodb, s3 = boto3.client("dynamodb", endpoint_url=endpoint), boto3.client("s3", endpoint_url=endpoint)
    dynamodb.create_table(**table_definition(load_template(), "ReceiptVaultTable", TABLE))
    for bucket in (IMAGES, EXPORTS):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    image = os.urandom(image_bytes)  # incompressible, like a photo
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    for index in range(receipts):
        receipt_id = str(uuid.UUID(int=index + 1))
        key = f"users/{USER}/receipts/{receipt_id}/original/{uuid.UUID(int=index + 10**6)}.jpg"
        s3.put_object(Bucket=IMAGES, Key=key, Body=image)
        item = new_receipt_item(
            USER, receipt_id, ReceiptCreate(storeName=f"Store {index % 50}", totalAmount="19.99", currency="EUR"), now
        )
        item["imageKeys"] = [key]
        dynamodb.put_item(TableName=TABLE, Item=serialize(item))


def run_child(endpoint: str, naive: bool) -> dict[str, Any]:
    code = CHILD.format(naive=naive, user=USER, images=IMAGES)
    output = subprocess.run(
        [sys.executable, "-c", code], env=export_environment(endpoint), capture_output=True, text=True, check=False
    )
    if output.returncode:
        raise RuntimeError(f"the export child failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def measure(receipts: int, image_bytes: int) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        seed(endpoint, receipts, image_bytes)
        return {"receipts": receipts, "streamed": run_child(endpoint, False), "naive": run_child(endpoint, True)}
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--image-bytes", type=int, default=1024 * 1024)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [measure(int(size), args.image_bytes) for size in args.sizes.split(",")]
    print(
        f"Export peak memory, one {args.image_bytes // 1024} KB image per receipt, moto in its own process, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores\n"
    )
    print("| receipts | ZIP | streamed: peak RSS | streamed: time | naive in-memory ZIP: peak RSS |")
    print("|---|---|---|---|---|")
    for result in results:
        streamed, naive = result["streamed"], result["naive"]
        zip_mb, peak_mb = streamed["zip_bytes"] / 2**20, streamed["peak_kb"] / 1024
        print(
            f"| {result['receipts']:,} | {zip_mb:,.0f} MB | {peak_mb:,.0f} MB "
            f"| {streamed['seconds']:.1f} s | {naive['peak_kb'] / 1024:,.0f} MB |"
        )
    growth = results[-1]["streamed"]["peak_kb"] / results[0]["streamed"]["peak_kb"]
    print(f"\nstreamed peak, largest ÷ smallest: {growth:.2f} (limit {LIMIT:.2f})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if growth <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
