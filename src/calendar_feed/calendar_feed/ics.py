"""A user's live warranties as an RFC 5545 calendar, pure: icalendar writes it (CRLF lines
folded at 75 octets, text escaped).

- One all-day VEVENT per live warranty, on its expiry date. Its UID is the receipt's, so a
  calendar app updates the event when the warranty changes instead of adding another, and its
  SEQUENCE is the receipt's serverVersion, which rises with every change. DTSTAMP is the
  receipt's last change, so an unchanged feed is byte for byte the same (and its ETag too).
- One VALARM per reminder offset of the user's settings, at 09:00 in the user's timezone on
  the day the push reminder is due: an absolute UTC trigger, so a DST change between now and
  then moves nothing, and a phone travelling in another zone rings when the push comes.
- A warranty that ended, was voided or removed is not in the feed at all; a subscribed calendar
  drops an event its feed no longer carries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Alarm, Calendar, Event, vDuration

from receipt_vault.user_settings import zone

PRODUCT_ID = "-//Receipt & Warranty Vault//Warranty calendar//EN"
REMINDER_LOCAL_TIME = dt.time(9, 0)
# How often a calendar app should poll (RFC 7986, and the de facto X-PUBLISHED-TTL).
REFRESH_INTERVAL = dt.timedelta(hours=6)
UID_DOMAIN = "receiptvault"


@dataclass(frozen=True)
class FeedWarranty:
    """A live warranty, as the feed shows it."""

    receipt_id: str
    expiry: dt.date
    store_name: str | None
    version: int
    changed_at: dt.datetime  # UTC


def calendar(warranties: Iterable[FeedWarranty], offsets: Iterable[int], timezone: str) -> bytes:
    feed = Calendar()
    feed.add("prodid", PRODUCT_ID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", "Warranties")
    feed.add("x-wr-timezone", timezone)
    feed.add("refresh-interval", vDuration(REFRESH_INTERVAL), parameters={"VALUE": "DURATION"})
    feed.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    days_before = sorted(set(offsets), reverse=True)
    for warranty in sorted(warranties, key=lambda warranty: (warranty.expiry, warranty.receipt_id)):
        feed.add_component(_event(warranty, days_before, timezone))
    return bytes(feed.to_ical())


def _event(warranty: FeedWarranty, days_before: list[int], timezone: str) -> Event:
    what = warranty.store_name or "a receipt"
    event = Event()
    event.add("uid", f"warranty-{warranty.receipt_id}@{UID_DOMAIN}")
    event.add("dtstamp", warranty.changed_at)
    event.add("last-modified", warranty.changed_at)
    event.add("sequence", warranty.version)
    event.add("dtstart", warranty.expiry)
    event.add("dtend", warranty.expiry + dt.timedelta(days=1))
    event.add("summary", f"Warranty ends: {what}")
    event.add("transp", "TRANSPARENT")
    for days in days_before:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", _reminder_text(what, days))
        # An absolute trigger must say so: TRIGGER's default value type is a DURATION.
        alarm.add("trigger", reminder_instant(warranty.expiry, days, timezone), parameters={"VALUE": "DATE-TIME"})
        event.add_component(alarm)
    return event


def reminder_instant(expiry: dt.date, days_before: int, timezone: str) -> dt.datetime:
    """09:00 in the user's timezone on the reminder's day, in UTC."""
    local = dt.datetime.combine(expiry - dt.timedelta(days=days_before), REMINDER_LOCAL_TIME, tzinfo=zone(timezone))
    return local.astimezone(dt.UTC)


def _reminder_text(what: str, days: int) -> str:
    if days == 0:
        return f"The warranty of {what} ends today"
    return f"The warranty of {what} ends in {days} day{'s' if days != 1 else ''}"
