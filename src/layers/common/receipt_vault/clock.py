"""Time, in one place: UTC everywhere, ISO 8601 with milliseconds on the wire.

Every "now" of the backend comes from `utc_now()`. `CLOCK_OFFSET_DAYS=N` moves it N days
(negative: back). The template never declares that variable, so a deployed function always
runs on the real clock. The local stack (`make dev CLOCK_OFFSET_DAYS=30`) and the test suite
use it to run the whole system, emulation included, on another date.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re

CLOCK_OFFSET_VARIABLE = "CLOCK_OFFSET_DAYS"


@functools.cache
def _parse_offset(raw: str) -> dt.timedelta:
    try:
        return dt.timedelta(days=int(raw))
    except ValueError:
        raise ValueError(f"{CLOCK_OFFSET_VARIABLE} must be a whole number of days, not {raw!r}") from None


def clock_offset() -> dt.timedelta:
    """How far this process's clock is moved from the real one (read on every call, so a
    stack started with another offset in the same process sees its own)."""
    raw = os.environ.get(CLOCK_OFFSET_VARIABLE, "").strip()
    return _parse_offset(raw) if raw else dt.timedelta(0)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + clock_offset()


def iso_timestamp(moment: dt.datetime) -> str:
    """ISO 8601 UTC with milliseconds, as API.md specifies: 2026-03-01T10:15:30.123Z."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# RFC 3339: a date, a time with any number of fractional digits, and a zone (Z or an offset).
_INSTANT = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<hours>[01]\d|2[0-3]):(?P<minutes>[0-5]\d))"
)
_NOT_AN_INSTANT = "an RFC 3339 timestamp with a zone, such as 2026-03-01T10:15:30.123Z"
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LATEST = dt.datetime.max.replace(microsecond=999000, tzinfo=dt.UTC)


def parse_instant(text: str) -> dt.datetime:
    """A client's timestamp as an instant, in UTC and floored to the millisecond, the precision
    of every stored timestamp. Flooring moves a boundary earlier by less than a millisecond, so a
    pull that starts there may repeat a change, never skip one. Raises ValueError (with a message
    of its own, never Python's) for anything but RFC 3339 with a zone: a time without one names no
    instant. An instant that leaves Python's years once in UTC (the first hours of year 1 east of
    Greenwich, the last of 9999 west of it) is before or after every stored timestamp, and the
    first or last representable millisecond stands for it."""
    found = _INSTANT.fullmatch(text)
    if not found:
        raise ValueError(_NOT_AN_INSTANT)
    milliseconds = (found["fraction"] or "").ljust(3, "0")[:3]
    zone = "+00:00" if found["utc"] else f"{found['sign']}{found['hours']}:{found['minutes']}"
    try:
        moment = dt.datetime.fromisoformat(f"{found['date']}T{found['time']}.{milliseconds}{zone}")
    except ValueError:  # no such day or time (February 30, 24:00:00)
        raise ValueError(_NOT_AN_INSTANT) from None
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return _EARLIEST if moment.year == 1 else _LATEST


def canonical_instant(text: str) -> str:
    """A client's timestamp in the stored form: ISO 8601 UTC with exactly three fractional digits."""
    return iso_timestamp(parse_instant(text))
