"""EventBridge schedule expressions, evaluated in UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from local.schedule_expressions import Schedule

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 8 * * ? *)", "2026-11-22T07:59:30", "2026-11-22T08:00:00"),
        ("cron(0 8 * * ? *)", "2026-11-22T08:00:00", "2026-11-23T08:00:00"),
        ("cron(0 9 ? * MON *)", "2026-11-22T10:00:00", "2026-11-23T09:00:00"),  # the 22nd is a Sunday
        ("cron(0 9 ? * 2 *)", "2026-11-22T10:00:00", "2026-11-23T09:00:00"),  # 2 is Monday (SUN = 1)
        ("cron(0/15 * * * ? *)", "2026-11-22T10:07:00", "2026-11-22T10:15:00"),
        ("cron(30 6 1 JAN,JUL ? *)", "2026-02-01T00:00:00", "2026-07-01T06:30:00"),
        ("cron(0 0 ? * MON-FRI *)", "2026-11-21T12:00:00", "2026-11-23T00:00:00"),
        ("rate(5 minutes)", "2026-11-22T10:00:10", "2026-11-22T10:05:00"),
        ("rate(1 day)", "2026-11-22T10:00:00", "2026-11-23T10:00:00"),
    ],
)
def test_the_next_firing_time(expression, after, expected):
    assert Schedule(expression).next_after(at(after)) == at(expected)


@pytest.mark.parametrize("expression", ["cron(0 8 * *)", "cron(61 8 * * ? *)", "every day", "rate(5 fortnights)"])
def test_an_invalid_expression_is_refused(expression):
    with pytest.raises(ValueError):
        Schedule(expression)
