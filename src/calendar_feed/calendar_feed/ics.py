"""A user's live warranties as an RFC 5545 calendar, pure: icalendar writes it (CRLF lines
folded at 75 octets).

- One all-day VEVENT per live warranty, on its expiry date. Its UID names the receipt and its
  owner (a receipt id is the client's choice, so it alone is not unique across users): a
  calendar app updates the event when the warranty changes instead of adding another. Its
  SEQUENCE is the receipt's serverVersion, which rises with every change, and DTSTAMP the
  receipt's last change, so an unchanged feed is byte for byte the same (and its ETag too).
- One VALARM per reminder offset of the user's settings, at 09:00 in the user's timezone on
  the day the push reminder is due: an absolute UTC trigger, so a DST change between now and
  then moves nothing, and a phone travelling in another zone rings when the push comes.
- The user's timezone as a VTIMEZONE (so a feed without warranties still holds a component,
  as RFC 5545 requires) and as X-WR-TIMEZONE.
- A warranty that ended, was voided or removed is not in the feed at all; a subscribed calendar
  drops an event its feed no longer carries.
- At most MAX_FEED_BYTES, the soonest warranties first: a calendar app, and Lambda's 6 MB
  response, take no more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Alarm, Calendar, Event, Timezone, vDuration, vText

from receipt_vault.user_settings import zone

PRODUCT_ID = "-//Receipt & Warranty Vault//Warranty calendar//EN"
REMINDER_LOCAL_TIME = dt.time(9, 0)
# How often a calendar app should poll (RFC 7986, and the de facto X-PUBLISHED-TTL).
REFRESH_INTERVAL = dt.timedelta(hours=6)
UID_DOMAIN = "receiptvault"
MAX_FEED_BYTES = 1_000_000


@dataclass(frozen=True)
class FeedWarranty:
    """A live warranty, as the feed shows it."""

    receipt_id: str
    expiry: dt.date
    store_name: str | None
    version: int
    changed_at: dt.datetime  # UTC
    extended: bool = False  # the cover in force is an extended warranty


class _Text(vText):  # type: ignore[misc]  # icalendar 6 has no types: vText is Any to mypy
    """TEXT escaped as RFC 5545 §3.3.11 says, and only so: icalendar 6 also reads a literal
    `\\N` in the text as a line break."""

    def to_ical(self) -> bytes:
        escaped = str(self).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return escaped.replace("\r\n", "\\n").replace("\n", "\\n").encode("utf-8")


def calendar(
    warranties: Iterable[FeedWarranty], offsets: Iterable[int], timezone: str, owner: str, today: dt.date
) -> bytes:
    """The feed of `owner` (a digest of the user, part of every UID), as of `today` (the
    VTIMEZONE covers this year to two years after the last expiry)."""
    soonest_first = sorted(warranties, key=lambda warranty: (warranty.expiry, warranty.receipt_id))
    days_before = sorted(set(offsets), reverse=True)
    last_year = max([today.year, *(warranty.expiry.year for warranty in soonest_first)]) + 2
    feed = Calendar()
    feed.add("prodid", PRODUCT_ID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", _Text("Warranties"))
    feed.add("x-wr-timezone", _Text(timezone))
    feed.add("refresh-interval", vDuration(REFRESH_INTERVAL), parameters={"VALUE": "DURATION"})
    feed.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    feed.add_component(
        Timezone.from_tzid(timezone, first_date=dt.date(today.year, 1, 1), last_date=dt.date(last_year, 1, 1))
    )
    size = len(feed.to_ical())
    for warranty in soonest_first:
        event = _event(warranty, days_before, timezone, owner)
        size += len(event.to_ical())
        if size > MAX_FEED_BYTES:
            break
        feed.add_component(event)
    return bytes(feed.to_ical())


def _event(warranty: FeedWarranty, days_before: list[int], timezone: str, owner: str) -> Event:
    event = Event()
    event.add("uid", f"warranty-{warranty.receipt_id}-{owner}@{UID_DOMAIN}")
    event.add("dtstamp", warranty.changed_at)
    event.add("last-modified", warranty.changed_at)
    event.add("sequence", warranty.version)
    event.add("dtstart", warranty.expiry)
    event.add("dtend", warranty.expiry + dt.timedelta(days=1))
    cover = "Extended warranty" if warranty.extended else "Warranty"
    event.add("summary", _Text(f"{cover} ends: {warranty.store_name or 'a receipt'}"))
    event.add("transp", "TRANSPARENT")
    for days in days_before:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", _Text(_reminder_text(days, warranty.extended)))  # the summary names the item
        # An absolute trigger must say so: TRIGGER's default value type is a DURATION.
        alarm.add("trigger", reminder_instant(warranty.expiry, days, timezone), parameters={"VALUE": "DATE-TIME"})
        event.add_component(alarm)
    return event


def reminder_instant(expiry: dt.date, days_before: int, timezone: str) -> dt.datetime:
    """09:00 in the user's timezone on the reminder's day, in UTC."""
    local = dt.datetime.combine(expiry - dt.timedelta(days=days_before), REMINDER_LOCAL_TIME, tzinfo=zone(timezone))
    return local.astimezone(dt.UTC)


def _reminder_text(days: int, extended: bool) -> str:
    cover = "The extended warranty" if extended else "The warranty"
    if days == 0:
        return f"{cover} ends today"
    return f"{cover} ends in {days} day{'s' if days != 1 else ''}"
