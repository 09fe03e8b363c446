"""sync-handler: POST /sync/pull, /sync/push and /sync/full for the offline-first app."""

from __future__ import annotations

import time

from aws_lambda_powertools.metrics import MetricUnit

from receipt_vault import init_phase
from receipt_vault.api import build_api, current_user_id, make_lambda_handler, parse_body, parse_json_body
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.pagination import page_tokens_from_secret
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.settings import SyncSettings, load_settings
from receipt_vault.shapes import JsonObject
from sync_handler.models import FullRequest, PullRequest, PushRequest
from sync_handler.sync_service import SyncService, without_nulls

settings = load_settings(SyncSettings)
observability = setup_observability()
metrics = observability.metrics
app = build_api(settings, observability)
table = dynamodb_table(settings.table_name)
sync = SyncService(
    ReceiptStore(table),
    page_tokens_from_secret(settings.pagination_secret_arn, settings.region),
    settings.max_batch_size,
    utc_now,
)


def _measured(operation: str, started: float, item_count: int, conflicts: int = 0) -> None:
    metrics.add_dimension(name="Operation", value=operation)
    metrics.add_metric(name="SyncDuration", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000)
    metrics.add_metric(name="SyncItemCount", unit=MetricUnit.Count, value=item_count)
    if operation == "push":
        metrics.add_metric(name="ConflictCount", unit=MetricUnit.Count, value=conflicts)


@app.post("/sync/pull")
def pull() -> JsonObject:
    started = time.perf_counter()
    result = sync.pull(current_user_id(app), parse_body(app, PullRequest, required=False))
    _measured("pull", started, len(result["items"]) + len(result["deleted"]))
    return without_nulls(result)


@app.post("/sync/push")
def push() -> JsonObject:
    started = time.perf_counter()
    result = sync.push(current_user_id(app), parse_json_body(app, PushRequest))
    conflicts = sum(1 for item in result["results"] if item["outcome"] in ("merged", "conflict"))
    _measured("push", started, len(result["results"]), conflicts)
    return without_nulls(result)


@app.post("/sync/full")
def full() -> JsonObject:
    started = time.perf_counter()
    result = sync.full(current_user_id(app), parse_body(app, FullRequest, required=False))
    _measured("full", started, len(result["items"]))
    return without_nulls(result)


lambda_handler = make_lambda_handler(app, observability, table_name=settings.table_name)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
