"""Which warranty reminders a daily run sends: pure date arithmetic, no AWS.

A reminder with offset N is due on the user's local day `expiry - N`. Each run owns the local
days after the previous run's local day, up to and including today's, both taken in the user's
own timezone:

    (local_date(run - 1 day), local_date(run)]

Daily runs therefore cover every local day exactly once, even when a DST change makes a user's
clock skip or repeat the hour of the run. (In Anchorage the 08:00 UTC run falls at 23:00 before
the spring change and at 00:00 after it: that run owns two days, the next autumn run none.)

The run reads only the ByScheduledJob partitions of the expiry dates that some reminder could
be due for: every day any timezone can be on in that window, plus each allowed offset.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from receipt_vault import keys
from receipt_vault.push import Notification
from receipt_vault.scheduled_jobs import EARLIEST_UTC_OFFSET, RUN_PERIOD, days_between, local_days_anywhere
from receipt_vault.user_settings import ALLOWED_REMINDER_OFFSETS, UserSettings, local_date

LEDGER_RETENTION = dt.timedelta(days=30)  # after the expiry, the ledger item may go
EXPIRED_LOOKBACK_DAYS = 7  # expiry days swept for warranties that ended while active


@dataclass(frozen=True)
class Candidate:
    """A live warranty read from an EXPIRY# partition: the partition's day is when the cover in
    force ends (receipts.rules.effective_warranty), `cover` which cover that is."""

    user_id: str
    receipt_id: str
    expiry_date: dt.date
    store_name: str | None = None
    cover: str = "manufacturer"


@dataclass(frozen=True)
class Reminder:
    candidate: Candidate
    offset_days: int
    days_left: int  # from the user's local today; below offset_days only on a catch-up day

    @property
    def ledger_sk(self) -> str:
        return keys.reminder_ledger_sk(
            self.candidate.receipt_id, self.offset_days, self.candidate.expiry_date.isoformat()
        )

    @property
    def ledger_expires_at(self) -> dt.datetime:
        expiry = dt.datetime.combine(self.candidate.expiry_date, dt.time(), dt.UTC)
        return expiry + LEDGER_RETENTION

    def notification(self) -> Notification:
        store = self.candidate.store_name or "your purchase"
        ends = self.candidate.expiry_date.strftime("%d %b %Y").lstrip("0")
        if self.days_left < 0:
            title = "Warranty has ended"
        elif self.days_left == 0:
            title = "Warranty ends today"
        elif self.days_left == 1:
            title = "Warranty ends tomorrow"
        else:
            title = f"Warranty ends in {self.days_left} days"
        which = "extended warranty" if self.candidate.cover == "extended" else "warranty"
        return Notification(
            title=title,
            body=f"The {which} for {store} ends on {ends}.",
            data={
                "type": "warrantyReminder",
                "receiptId": self.candidate.receipt_id,
                "offsetDays": str(self.offset_days),
                "warrantyExpiryDate": self.candidate.expiry_date.isoformat(),
                "cover": self.candidate.cover,
            },
        )


def owned_local_days(run: dt.datetime, timezone: str) -> tuple[dt.date, dt.date]:
    """(exclusive start, inclusive end) of the local days this run owns for a user."""
    return local_date(run - RUN_PERIOD, timezone), local_date(run, timezone)


def candidate_expiry_dates(run: dt.datetime) -> list[dt.date]:
    """Expiry dates for which a reminder may be due in this run, in any timezone."""
    due_days = local_days_anywhere(run - RUN_PERIOD, run)[1:]  # the first day is owned by the previous run
    return sorted({day + dt.timedelta(days=offset) for day in due_days for offset in ALLOWED_REMINDER_OFFSETS})


def expired_dates(run: dt.datetime) -> list[dt.date]:
    """Expiry days that have ended in every timezone, most recent first."""
    ended = (run + EARLIEST_UTC_OFFSET).date() - dt.timedelta(days=1)
    return days_between(ended - dt.timedelta(days=EXPIRED_LOOKBACK_DAYS - 1), ended)[::-1]


def due_reminders(candidate: Candidate, settings: UserSettings, run: dt.datetime) -> list[Reminder]:
    after, through = owned_local_days(run, settings.timezone)
    reminders = []
    for offset in sorted(set(settings.reminder_offsets)):
        due_day = candidate.expiry_date - dt.timedelta(days=offset)
        if after < due_day <= through:
            reminders.append(Reminder(candidate, offset, (candidate.expiry_date - through).days))
    return reminders
