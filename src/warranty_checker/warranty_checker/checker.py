"""The daily warranty run: reminders that are due, exactly once each, then the index sweep.

Reads: one ByScheduledJob query per candidate expiry date (about 16), the warranties found
there, and the settings of their owners in BatchGetItem calls. Nothing is scanned, so the cost
grows with the reminders due, not with the users or receipts in the table.

Each user's reminders are isolated: a failure is logged and counted, and the run goes on with
the next user. The run then reports itself incomplete, Lambda retries the event, and the retry
sends only what the ledger does not hold yet.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from receipt_vault import keys
from receipt_vault.notification_ledger import OncePerLedgerPush
from receipt_vault.observability import hash_user_id
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.scheduled_jobs import JobReport
from receipt_vault.settings_store import SettingsStore
from receipt_vault.shapes import DynamoItem
from receipt_vault.user_settings import UserSettings
from warranty_checker.reminder_plan import Candidate, Reminder, candidate_expiry_dates, due_reminders, expired_dates

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

# Stop claiming reminders with this much of the invocation left: a claim, a push to a few
# devices and the ledger update must finish before the timeout.
TIME_MARGIN_SECONDS = 10.0


@dataclass
class RunReport(JobReport):
    candidates: int = 0
    users: int = 0
    due: int = 0
    expired_removed: int = 0


class WarrantyChecker:
    def __init__(
        self,
        receipts: ReceiptStore,
        settings: SettingsStore,
        push: OncePerLedgerPush,
        logger: Logger,
    ) -> None:
        self.receipts = receipts
        self.settings = settings
        self.push = push
        self.logger = logger

    def run(self, run: dt.datetime, seconds_left: Callable[[], float]) -> RunReport:
        report = RunReport()
        candidates = self._candidates(run)
        report.candidates = sum(len(found) for found in candidates.values())
        report.users = len(candidates)
        settings = self.settings.get_many(sorted(candidates)) if candidates else {}
        for user_id in sorted(candidates):
            if seconds_left() < TIME_MARGIN_SECONDS:
                report.out_of_time = True
                break
            try:
                user_settings = UserSettings.from_item(settings.get(user_id))
                self._remind(user_id, candidates[user_id], user_settings, run, report, seconds_left)
            except Exception:
                report.failed_users += 1
                self.logger.exception("reminders failed for a user", extra={"user_hash": hash_user_id(user_id)})
        if not report.out_of_time:
            self._end_expired_warranties(run, report)
        return report

    def _candidates(self, run: dt.datetime) -> dict[str, list[Candidate]]:
        by_user: dict[str, list[Candidate]] = defaultdict(list)
        for expiry in candidate_expiry_dates(run):
            for item in self.receipts.warranties_expiring_on(expiry.isoformat()):
                user_id = keys.user_id_of(item["PK"])
                # The index projects the manufacturer's end: a partition of another day is the
                # extended cover's (receipts.rules.effective_warranty).
                cover = "manufacturer" if item.get("warrantyExpiryDate") == expiry.isoformat() else "extended"
                by_user[user_id].append(Candidate(user_id, item["receiptId"], expiry, item.get("storeName"), cover))
        return by_user

    def _remind(
        self,
        user_id: str,
        candidates: list[Candidate],
        settings: UserSettings,
        run: dt.datetime,
        report: RunReport,
        seconds_left: Callable[[], float],
    ) -> None:
        reminders = [reminder for candidate in candidates for reminder in due_reminders(candidate, settings, run)]
        report.due += len(reminders)
        devices = dict(settings.devices)
        if not reminders:
            return
        if not devices:
            report.without_device += len(reminders)
            return
        if self.push.is_erased(user_id):  # its erasure began since the index was read
            report.erased_accounts += len(reminders)
            return
        for reminder in reminders:
            if seconds_left() < TIME_MARGIN_SECONDS:
                report.out_of_time = True
                return
            self._send_once(user_id, reminder, devices, report)

    def _send_once(self, user_id: str, reminder: Reminder, devices: dict[str, DynamoItem], report: RunReport) -> None:
        delivery = self.push.send(
            user_id, reminder.ledger_sk, reminder.ledger_expires_at, reminder.notification(), devices, True
        )
        for device_id in delivery.removed_devices:  # gone endpoints: the next reminder skips them
            devices.pop(device_id, None)
        report.record(delivery.outcome, len(delivery.removed_devices))

    def _end_expired_warranties(self, run: dt.datetime, report: RunReport) -> None:
        """Warranties that ended while their receipt stayed active leave the warranty indexes."""
        for expiry in expired_dates(run):
            for item in self.receipts.warranties_expiring_on(expiry.isoformat()):
                user_id = keys.user_id_of(item["PK"])
                try:
                    if self.receipts.end_warranty(user_id, item["receiptId"], expiry.isoformat()).succeeded:
                        report.expired_removed += 1
                except Exception:
                    report.failed_users += 1
                    self.logger.exception("ending a warranty failed", extra={"user_hash": hash_user_id(user_id)})
