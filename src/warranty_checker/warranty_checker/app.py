"""warranty-checker: daily at 08:00 UTC, push reminders for warranties about to end.

Reserved concurrency 1 keeps runs apart in AWS; the notification ledger makes a rerun, a
retry or an overlapping run harmless anyway.
"""

from __future__ import annotations

from receipt_vault import init_phase
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.scheduled_jobs import job_environment, scheduled_handler
from receipt_vault.settings import ScheduledJobSettings, load_settings
from receipt_vault.settings_store import SettingsStore
from warranty_checker.checker import WarrantyChecker

settings = load_settings(ScheduledJobSettings)
observability, table, push = job_environment(settings)
checker = WarrantyChecker(ReceiptStore(table), SettingsStore(table), push, observability.logger)
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
lambda_handler = scheduled_handler(checker.run, METRICS, observability)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
