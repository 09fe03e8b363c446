"""weekly-summary: Mondays at 09:00 UTC, a digest of each opted-in user's warranties."""

from __future__ import annotations

from receipt_vault import init_phase
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.scheduled_jobs import job_environment, scheduled_handler
from receipt_vault.settings import ScheduledJobSettings, load_settings
from weekly_summary.summary_run import WeeklySummary

settings = load_settings(ScheduledJobSettings)
observability, table, push = job_environment(settings)
summary = WeeklySummary(table, ReceiptStore(table), push, observability.logger)
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
lambda_handler = scheduled_handler(summary.run, METRICS, observability)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
