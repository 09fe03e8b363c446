"""The weekly run: one digest per opted-in user with a live warranty, exactly once per ISO week.

Reads: the `DIGEST#WEEKLY` partition of ByScheduledJob (the opted-in users' settings, devices
included), then each of those users' live warranties from ByWarrantyExpiry. No receipt is
read for a user who did not opt in, and nothing is scanned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from receipt_vault import keys
from receipt_vault.dynamo import DynamoTable
from receipt_vault.notification_ledger import OncePerLedgerPush
from receipt_vault.observability import hash_user_id
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.scheduled_jobs import JobReport
from receipt_vault.settings_store import SettingsStore
from receipt_vault.shapes import DynamoItem
from receipt_vault.user_settings import UserSettings, local_date
from weekly_summary.digest import LEDGER_RETENTION, iso_week, notification, summarize

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

TIME_MARGIN_SECONDS = 10.0


@dataclass
class DigestReport(JobReport):
    opted_in: int = 0
    without_warranty: int = 0


class WeeklySummary:
    def __init__(self, table: DynamoTable, receipts: ReceiptStore, push: OncePerLedgerPush, logger: Logger) -> None:
        self.table = table
        self.receipts = receipts
        self.push = push
        self.logger = logger

    def opted_in(self) -> Iterator[DynamoItem]:
        """The settings of every user who opted in, as projected into the index."""
        return SettingsStore(self.table).digest_subscribers()

    def run(self, run: dt.datetime, seconds_left: Callable[[], float]) -> DigestReport:
        report = DigestReport()
        week = iso_week(run.date())
        for item in self.opted_in():
            report.opted_in += 1
            if seconds_left() < TIME_MARGIN_SECONDS:
                report.out_of_time = True
                break
            user_id = keys.user_id_of(item["PK"])
            try:
                self._digest(user_id, UserSettings.from_item(item), run, week, report)
            except Exception:
                report.failed_users += 1
                self.logger.exception("digest failed for a user", extra={"user_hash": hash_user_id(user_id)})
        return report

    def _digest(self, user_id: str, settings: UserSettings, run: dt.datetime, week: str, report: DigestReport) -> None:
        today = local_date(run, settings.timezone)
        summary = summarize(self.receipts.live_warranties(user_id, today.isoformat()), today)
        if summary is None:
            report.without_warranty += 1
            return
        if not settings.devices:
            report.without_device += 1
            return
        delivery = self.push.send(
            user_id, keys.digest_ledger_sk(week), run + LEDGER_RETENTION, notification(summary), settings.devices
        )
        report.record(delivery.outcome, len(delivery.removed_devices))
