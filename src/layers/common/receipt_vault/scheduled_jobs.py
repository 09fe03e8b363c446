"""What the scheduled jobs share: the run's instant, local days, and how a run ends unfinished.

A run works on the instant it was scheduled for (the EventBridge event's `time`), not on the
clock. A retry an hour later, or a dead-lettered event replayed the next morning, therefore
does the same day's work, and the notification ledger keeps it from sending anything twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, NamedTuple

from aws_lambda_powertools.metrics import MetricUnit

from receipt_vault.clients import lazy_client
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import DynamoTable, dynamodb_table
from receipt_vault.erasure import ErasedAccounts
from receipt_vault.notification_ledger import (
    ALREADY_SENT,
    DELIVERED,
    ERASED,
    NO_DEVICE,
    NotificationLedger,
    OncePerLedgerPush,
)
from receipt_vault.observability import Observability, setup_observability
from receipt_vault.push import PushSender
from receipt_vault.push_gateway import PushGateway
from receipt_vault.settings import ScheduledJobSettings
from receipt_vault.settings_store import SettingsStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Every civil timezone lies within these offsets from UTC (Etc/GMT+12 to Pacific/Kiritimati).
EARLIEST_UTC_OFFSET = dt.timedelta(hours=-12)
LATEST_UTC_OFFSET = dt.timedelta(hours=14)
RUN_PERIOD = dt.timedelta(days=1)


class RunIncompleteError(RuntimeError):
    """Some of the run's work is left (a user failed, or time ran out). Raising it makes Lambda
    retry the event, and the retry resumes: what was sent is in the ledger."""


def scheduled_instant(event: object, fallback: dt.datetime) -> dt.datetime:
    """The instant the schedule fired for; `fallback` (now) for a hand-made event without one."""
    raw = event.get("time") if isinstance(event, dict) else None
    if not raw:
        return fallback
    try:
        moment = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=step) for step in range((last - first).days + 1)]


def local_days_anywhere(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """Every calendar day some timezone is living at some instant in [start, end]."""
    return days_between((start + EARLIEST_UTC_OFFSET).date(), (end + LATEST_UTC_OFFSET).date())


@dataclass
class JobReport:
    """What a run did, counted per notification outcome; a job adds its own counters."""

    sent: int = 0
    already_sent: int = 0
    without_device: int = 0
    push_failures: int = 0
    failed_users: int = 0
    endpoints_removed: int = 0
    erased_accounts: int = 0  # skipped: their erasure has started
    out_of_time: bool = False

    def record(self, outcome: str, removed_devices: int = 0) -> None:
        self.endpoints_removed += removed_devices
        if outcome == ALREADY_SENT:
            self.already_sent += 1
        elif outcome == DELIVERED:
            self.sent += 1
        elif outcome == NO_DEVICE:
            self.without_device += 1
        elif outcome == ERASED:
            self.erased_accounts += 1
        else:
            self.push_failures += 1

    @property
    def incomplete(self) -> bool:
        return self.out_of_time or self.failed_users > 0 or self.push_failures > 0

    def as_dict(self) -> dict[str, int | bool]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def ledgered_push(table: DynamoTable, region: str, observability: Observability) -> OncePerLedgerPush:
    """Pushes through the notification ledger, as every scheduled job sends them."""
    # Created at the first push, not at init: a run with nothing due sends none.
    sender = PushSender(
        PushGateway(lazy_client("sns", region)), SettingsStore(table), ErasedAccounts(table), observability.logger
    )
    return OncePerLedgerPush(NotificationLedger(table), sender, utc_now)


def run_scheduled_job(
    event: object,
    context: LambdaContext,
    job: Callable[[dt.datetime, Callable[[], float]], JobReport],
    metric_names: dict[str, str],
    observability: Observability,
    clock: Callable[[], dt.datetime],
) -> dict[str, str | int | bool]:
    """The handler of a scheduled job: run it for the scheduled instant within the invocation's
    time, publish its counters as metrics (name -> report attribute), and raise if it is
    incomplete, so that Lambda retries it."""
    run = scheduled_instant(event, clock())
    report = job(run, lambda: context.get_remaining_time_in_millis() / 1000)
    for name, attribute in metric_names.items():
        observability.metrics.add_metric(name=name, unit=MetricUnit.Count, value=getattr(report, attribute))
    result: dict[str, str | int | bool] = {"run": run.isoformat(), **report.as_dict()}
    observability.logger.info("scheduled run", extra=result)
    if report.incomplete:
        raise RunIncompleteError(f"the run for {run.isoformat()} left work undone: {result}")
    return result


class JobEnvironment(NamedTuple):
    """What every scheduled job is wired with."""

    observability: Observability
    table: DynamoTable
    push: OncePerLedgerPush  # through the notification ledger


def job_environment(settings: ScheduledJobSettings) -> JobEnvironment:
    """A scheduled function's observability, table and ledgered pushes, made at init."""
    observability = setup_observability()
    table = dynamodb_table(settings.table_name)
    return JobEnvironment(observability, table, ledgered_push(table, settings.region, observability))


def scheduled_handler(
    job: Callable[[dt.datetime, Callable[[], float]], JobReport],
    metric_names: dict[str, str],
    observability: Observability,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Callable[[object, LambdaContext], dict[str, str | int | bool]]:
    """The `lambda_handler` of a scheduled job: run_scheduled_job, logged with the invocation's
    context, its metrics flushed at the end."""

    @observability.metrics.log_metrics
    @observability.logger.inject_lambda_context
    def lambda_handler(event: object, context: LambdaContext) -> dict[str, str | int | bool]:
        return run_scheduled_job(event, context, job, metric_names, observability, clock)

    return lambda_handler
