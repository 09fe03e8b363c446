"""weekly-summary: Mondays at 09:00 UTC, a digest of each opted-in user's warranties."""

from __future__ import annotations

from typing import Any

from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.scheduled_jobs import ledgered_push, run_scheduled_job
from receipt_vault.settings import ScheduledJobSettings, load_settings
from weekly_summary.summary_run import WeeklySummary

settings = load_settings(ScheduledJobSettings)
observability = setup_observability()
logger, metrics = observability.logger, observability.metrics
table = dynamodb_table(settings.table_name)
summary = WeeklySummary(
    table,
    ReceiptStore(table),
    ledgered_push(table, settings.region, observability),
    logger,
)
METRICS = {
    "DigestsOptedIn": "opted_in",
    "DigestsSent": "sent",
    "DigestsAlreadySent": "already_sent",
    "DigestsWithoutWarranty": "without_warranty",
    "DigestsWithoutDevice": "without_device",
    "DigestPushFailures": "push_failures",
    "DigestUserFailures": "failed_users",
    "PushEndpointsRemoved": "endpoints_removed",
}


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_scheduled_job(event, context, summary.run, METRICS, observability, utc_now)
