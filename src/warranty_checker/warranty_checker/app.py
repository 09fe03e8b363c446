"""warranty-checker: daily at 08:00 UTC, push reminders for warranties about to end.

Reserved concurrency 1 keeps runs apart in AWS; the notification ledger makes a rerun, a
retry or an overlapping run harmless anyway.
"""

from __future__ import annotations

from typing import Any

from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.scheduled_jobs import ledgered_push, run_scheduled_job
from receipt_vault.settings import ScheduledJobSettings, load_settings
from receipt_vault.user_settings import SettingsStore
from warranty_checker.checker import WarrantyChecker

settings = load_settings(ScheduledJobSettings)
observability = setup_observability()
logger, metrics = observability.logger, observability.metrics
table = dynamodb_table(settings.table_name)
checker = WarrantyChecker(
    ReceiptStore(table),
    SettingsStore(table),
    ledgered_push(table, settings.region, observability),
    logger,
)
METRICS = {
    "RemindersDue": "due",
    "RemindersSent": "sent",
    "RemindersAlreadySent": "already_sent",
    "RemindersWithoutDevice": "without_device",
    "ReminderPushFailures": "push_failures",
    "ReminderUserFailures": "failed_users",
    "PushEndpointsRemoved": "endpoints_removed",
    "ExpiredWarrantiesRemoved": "expired_removed",
}


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_scheduled_job(event, context, checker.run, METRICS, observability, utc_now)
