"""EventBridge schedule expressions: `cron(min hour day-of-month month day-of-week year)` and
`rate(n unit)`, evaluated in UTC as EventBridge rules are."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTHS = {
    name: index
    for index, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
# EventBridge counts days of the week from SUN = 1.
_WEEKDAYS = {name: index for index, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a cron field allows; None for `*` or `?` (anything)."""
    if text in ("*", "?"):
        return None
    allowed: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-")
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        allowed.update(range(start, end + 1, step))
    if not all(low <= value <= high for value in allowed):
        raise ValueError(f"cron field out of range: {text}")
    return allowed


def _value(text: str, names: dict[str, int] | None) -> int:
    return names[text.upper()] if names and text.upper() in names else int(text)


@dataclass(frozen=True)
class Schedule:
    expression: str

    def __post_init__(self) -> None:
        self.next_after(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # validates the expression

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first firing time strictly after `moment` (whole minutes, UTC)."""
        start = moment.astimezone(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        rate = _RATE.match(self.expression)
        if rate:
            unit = rate.group(2).rstrip("s")
            return start + dt.timedelta(**{f"{unit}s": int(rate.group(1))}) - dt.timedelta(minutes=1)
        cron = _CRON.match(self.expression)
        if not cron or len(cron.group(1).split()) != 6:
            raise ValueError(f"not an EventBridge schedule expression: {self.expression}")
        minute, hour, day, month, weekday, year = cron.group(1).split()
        minutes, hours = _field(minute, 0, 59), _field(hour, 0, 23)
        days, months = _field(day, 1, 31), _field(month, 1, 12, _MONTHS)
        weekdays, years = _field(weekday, 1, 7, _WEEKDAYS), _field(year, 1970, 2199)
        candidate = start
        for _ in range(366 * 24 * 60 * 5):  # at most five years of minutes
            if (
                (years is None or candidate.year in years)
                and (months is None or candidate.month in months)
                and (days is None or candidate.day in days)
                and (weekdays is None or candidate.isoweekday() % 7 + 1 in weekdays)
                and (hours is None or candidate.hour in hours)
                and (minutes is None or candidate.minute in minutes)
            ):
                return candidate
            candidate += dt.timedelta(minutes=1)
        raise ValueError(f"schedule never fires: {self.expression}")
