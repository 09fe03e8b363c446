"""Time, in one place: UTC everywhere, ISO 8601 with milliseconds on the wire."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_timestamp(moment: dt.datetime) -> str:
    """ISO 8601 UTC with milliseconds, as API.md specifies: 2026-03-01T10:15:30.123Z."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
