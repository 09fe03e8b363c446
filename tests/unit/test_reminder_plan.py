"""Which reminders a run owns: offsets, timezones and DST, as pure date arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from receipt_vault.user_settings import UserSettings
from warranty_checker import reminder_plan as plan

UTC = dt.UTC


def run_at(day: str, hour: int = 8) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), UTC)


def settings(timezone: str, offsets: tuple[int, ...] = (30, 7, 1)) -> UserSettings:
    return UserSettings(reminder_offsets=offsets, weekly_digest=False, timezone=timezone, locale="en", devices={})


def candidate(expiry: str, receipt_id: str = "r1") -> object:
    return plan.Candidate("user-a", receipt_id, dt.date.fromisoformat(expiry), "MediaMarkt")


def due_offsets(expiry: str, timezone: str, run: dt.datetime, offsets: tuple[int, ...] = (30, 7, 1)) -> list[int]:
    return [r.offset_days for r in plan.due_reminders(candidate(expiry), settings(timezone, offsets), run)]


def test_a_reminder_is_due_on_the_local_day_its_offset_names():
    run = run_at("2026-11-22")

    assert due_offsets("2026-11-29", "Europe/Berlin", run) == [7]
    assert due_offsets("2026-12-22", "Europe/Berlin", run) == [30]
    assert due_offsets("2026-11-23", "Europe/Berlin", run) == [1]
    assert due_offsets("2026-11-28", "Europe/Berlin", run) == []  # 6 days: no offset
    assert due_offsets("2026-11-29", "Europe/Berlin", run, offsets=(14, 3)) == []  # not the user's offsets


def test_auckland_and_los_angeles_on_the_same_utc_morning_each_use_their_own_day():
    # 07:30 UTC on 22 November: 20:30 on the 22nd in Auckland (NZDT), 23:30 on the 21st in
    # Los Angeles (PST). A warranty ending 29 November is 7 days away in Auckland, 8 in LA.
    run = dt.datetime(2026, 11, 22, 7, 30, tzinfo=UTC)

    assert due_offsets("2026-11-29", "Pacific/Auckland", run) == [7]
    assert due_offsets("2026-11-29", "America/Los_Angeles", run) == []
    assert due_offsets("2026-11-28", "America/Los_Angeles", run) == [7]  # the 21st, LA's today
    assert due_offsets("2026-11-28", "Pacific/Auckland", run) == []  # Auckland's 21st was yesterday's run


def test_at_the_scheduled_0800_utc_auckland_and_los_angeles_share_the_date_yet_not_the_hour():
    run = run_at("2026-11-22")

    assert plan.owned_local_days(run, "Pacific/Auckland") == (dt.date(2026, 11, 21), dt.date(2026, 11, 22))
    assert plan.owned_local_days(run, "America/Los_Angeles") == (dt.date(2026, 11, 21), dt.date(2026, 11, 22))
    assert plan.owned_local_days(run, "Pacific/Honolulu") == (dt.date(2026, 11, 20), dt.date(2026, 11, 21))


def test_when_dst_starts_the_run_that_jumps_a_local_day_sends_that_days_reminders_too():
    # Anchorage: 08:00 UTC is 23:00 AKST before 8 March 2026 and 00:00 AKDT after it, so no
    # daily run falls on the local 8 March. The run of 9 March owns the 8th and the 9th.
    assert plan.owned_local_days(run_at("2026-03-08"), "America/Anchorage") == (
        dt.date(2026, 3, 6),
        dt.date(2026, 3, 7),
    )
    assert plan.owned_local_days(run_at("2026-03-09"), "America/Anchorage") == (
        dt.date(2026, 3, 7),
        dt.date(2026, 3, 9),
    )
    assert due_offsets("2026-03-15", "America/Anchorage", run_at("2026-03-09")) == [7]  # due on the 8th
    reminder = plan.due_reminders(candidate("2026-03-15"), settings("America/Anchorage"), run_at("2026-03-09"))[0]
    assert reminder.days_left == 6 and reminder.notification().title == "Warranty ends in 6 days"


def test_when_dst_ends_the_run_that_repeats_a_local_day_sends_nothing_twice():
    # 1 November 2026: the 08:00 UTC runs of the 1st and the 2nd are both on the local 1st.
    assert due_offsets("2026-11-08", "America/Anchorage", run_at("2026-11-01")) == [7]
    assert due_offsets("2026-11-08", "America/Anchorage", run_at("2026-11-02")) == []


@pytest.mark.parametrize("year", [2026, 2028])  # 2028 is a leap year
@pytest.mark.parametrize(
    "timezone",
    ["America/Anchorage", "America/Los_Angeles", "Pacific/Auckland", "Europe/London", "Pacific/Kiritimati"],
)
def test_over_a_year_of_daily_runs_every_local_day_is_owned_by_exactly_one_run(timezone, year):
    owners: dict[dt.date, int] = {}
    for index in range(367):
        after, through = plan.owned_local_days(run_at(f"{year}-01-01") + dt.timedelta(days=index), timezone)
        for day in range((through - after).days):
            owned = after + dt.timedelta(days=day + 1)
            owners[owned] = owners.get(owned, 0) + 1

    inner = [day for day in owners if dt.date(year, 1, 3) <= day <= dt.date(year, 12, 29)]
    assert len(inner) == (dt.date(year, 12, 29) - dt.date(year, 1, 3)).days + 1
    assert {owners[day] for day in inner} == {1}


def test_over_a_leap_day_each_offset_counts_the_29th_of_february():
    assert due_offsets("2028-03-01", "UTC", run_at("2028-02-29"), (1,)) == [1]
    assert due_offsets("2028-03-01", "UTC", run_at("2028-02-28"), (1,)) == []
    assert due_offsets("2028-03-06", "UTC", run_at("2028-02-28"), (7,)) == [7]
    assert due_offsets("2028-03-15", "UTC", run_at("2028-02-14"), (30,)) == [30]  # 16 + 14 days
    assert due_offsets("2027-03-15", "UTC", run_at("2027-02-13"), (30,)) == [30]  # no 29th in 2027
    # 08:00 UTC on the 29th is 21:00 on the 29th in Auckland (NZDT): the same local day.
    assert due_offsets("2028-03-01", "Pacific/Auckland", run_at("2028-02-29"), (1,)) == [1]


def test_a_warranty_that_ends_on_a_leap_day_is_reminded_and_then_ends_that_day():
    [reminder] = plan.due_reminders(candidate("2028-02-29"), settings("UTC", (0,)), run_at("2028-02-29"))

    assert reminder.days_left == 0 and reminder.notification().title == "Warranty ends today"
    assert plan.expired_dates(run_at("2028-03-02"))[0] == dt.date(2028, 2, 29)


def test_the_candidate_dates_cover_every_timezones_due_days_and_no_more():
    run = run_at("2026-11-22")

    dates = plan.candidate_expiry_dates(run)

    # Due days anywhere: the 21st (UTC-9 and west) and the 22nd; each plus every allowed offset.
    expected = {
        dt.date(2026, 11, day) + dt.timedelta(days=offset)
        for day in (21, 22)
        for offset in (0, 1, 3, 7, 14, 30, 60, 90)
    }
    assert set(dates) == expected
    assert len(dates) <= 16


def test_expired_dates_are_days_that_have_ended_everywhere():
    dates = plan.expired_dates(run_at("2026-11-22"))

    # At 08:00 UTC on the 22nd, UTC-12 is on the 21st: the 20th has ended everywhere.
    assert dates[0] == dt.date(2026, 11, 20)
    assert len(dates) == plan.EXPIRED_LOOKBACK_DAYS and dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    ("expiry", "title"),
    [
        ("2026-11-22", "Warranty ends today"),
        ("2026-11-23", "Warranty ends tomorrow"),
        ("2026-11-29", "Warranty ends in 7 days"),
    ],
)
def test_the_notification_says_when_the_warranty_ends_and_links_the_receipt(expiry, title):
    [reminder] = plan.due_reminders(candidate(expiry), settings("UTC", (0, 1, 7)), run_at("2026-11-22"))

    notification = reminder.notification()

    assert notification.title == title
    assert "MediaMarkt" in notification.body
    assert notification.data["receiptId"] == "r1" and notification.data["type"] == "warrantyReminder"
    assert all(isinstance(value, str) for value in notification.data.values())  # FCM data is strings only
    assert reminder.ledger_sk == f"NOTIF#r1#{reminder.offset_days}#{expiry}"
