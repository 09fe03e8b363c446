"""The warranty calendar as RFC 5545 text: golden feeds for three users, each parsed by icalendar
and by vobject (an independent parser), and checked line by line against the RFC's rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import icalendar
import pytest
import vobject

from calendar_feed.feed_service import feed_warranties
from calendar_feed.ics import MAX_FEED_BYTES, FeedWarranty, calendar, reminder_instant

GOLDEN = Path(__file__).parents[1] / "data" / "calendar"
CHANGED = dt.datetime(2026, 11, 30, 8, 15, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 1)
OWNER = "0123456789abcdef"

USERS = {
    # Athens: EET (+2) until 28 March 2027, EEST (+3) after: the 30- and 7-day alarms of the
    # April expiry fall before the change, the 1-day one after.
    "athens": (
        "Europe/Athens",
        (30, 7, 1),
        [
            FeedWarranty("3f0c9a2e-5d6b-4c1e-9f7a-2b8d4e6a1c30", dt.date(2027, 4, 2), "MediaMarkt Athens", 4, CHANGED),
            FeedWarranty(
                "5b1d8c3f-7e2a-4f6b-8c9d-3a4e5f6b7c81", dt.date(2027, 1, 15), "Kotsovolos; Γλυφάδα, \\ A1", 1, CHANGED
            ),
        ],
    ),
    # Auckland: NZDT (+13) in February; the warranty ends on a leap day.
    "auckland": (
        "Pacific/Auckland",
        (7, 0),
        [FeedWarranty("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", dt.date(2028, 2, 29), "Noel Leeming", 2, CHANGED)],
    ),
    # UTC: from the index's items, as the service reads them: an extended cover that outlasts the
    # manufacturer's (its event is the extended one's), a voided warranty (no event), and one
    # without a store name.
    "utc": (
        "UTC",
        (30,),
        feed_warranties(
            [
                {
                    "receiptId": "0c9e4b1a-6f2d-4a7e-8c3b-5d1f9e2a7c64",
                    "purchaseDate": "2026-06-30",
                    "warrantyExpiryDate": "2027-06-30",
                    "extendedWarranty": {"provider": "CarePlus", "months": 36, "cost": "49.90"},
                    "storeName": "Apple Store",
                    "serverVersion": 7,
                    "updatedAt": "2026-11-30T08:15:00.000Z",
                },
                {
                    "receiptId": "1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    "warrantyExpiryDate": "2027-03-01",
                    "warrantyStatus": "void",
                    "storeName": "Voided",
                    "serverVersion": 2,
                    "updatedAt": "2026-11-30T08:15:00.000Z",
                },
                {
                    "receiptId": "2e3f4051-6b7c-4d8e-9fa0-1b2c3d4e5f60",
                    "warrantyExpiryDate": "2027-02-01",
                    "serverVersion": 1,
                    "updatedAt": "2026-11-30T08:15:00.000Z",
                },
            ]
        ),
    ),
}


def feed(user: str) -> bytes:
    timezone, offsets, warranties = USERS[user]
    return calendar(warranties, offsets, timezone, OWNER, TODAY)


def uid(warranty: FeedWarranty) -> str:
    return f"warranty-{warranty.receipt_id}-{OWNER}@receiptvault"


@pytest.mark.parametrize("user", sorted(USERS))
def test_the_feed_is_its_golden_file(user):
    assert feed(user) == (GOLDEN / f"{user}.ics").read_bytes()


@pytest.mark.parametrize("user", sorted(USERS))
def test_rfc_5545_lines_crlf_folded_at_75_octets_with_dtstamp_on_every_event(user):
    text = feed(user)
    assert text.endswith(b"\r\n") and b"\n" not in text.replace(b"\r\n", b"")
    lines = text.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines)
    unfolded = text.replace(b"\r\n ", b"").decode("utf-8").split("\r\n")
    events = unfolded.count("BEGIN:VEVENT")
    assert events == len(USERS[user][2])
    assert sum(line.startswith("DTSTAMP:") for line in unfolded) == events
    assert sum(line.startswith("UID:") for line in unfolded) == events
    assert all(line.startswith("TRIGGER;VALUE=DATE-TIME:") for line in unfolded if line.startswith("TRIGGER"))


def test_text_is_escaped_and_multibyte_text_folds_between_characters():
    text = feed("athens")
    unfolded = text.replace(b"\r\n ", b"").decode("utf-8")
    assert "SUMMARY:Warranty ends: Kotsovolos\\; Γλυφάδα\\, \\\\ A1" in unfolded
    for line in text.split(b"\r\n"):
        line.decode("utf-8")  # a fold never splits a character


@pytest.mark.parametrize("user", sorted(USERS))
def test_two_independent_parsers_read_the_same_events(user):
    text = feed(user)
    timezone, offsets, warranties = USERS[user]
    by_icalendar = {
        str(event["UID"]): (event.decoded("DTSTART"), int(event["SEQUENCE"]), len(event.walk("VALARM")))
        for event in icalendar.Calendar.from_ical(text).walk("VEVENT")
    }
    parsed = vobject.readOne(text.decode("utf-8"))
    by_vobject = {
        event.uid.value: (event.dtstart.value, int(event.sequence.value), len(event.contents.get("valarm", [])))
        for event in parsed.vevent_list
    }
    expected = {uid(warranty): (warranty.expiry, warranty.version, len(offsets)) for warranty in warranties}
    assert by_icalendar == by_vobject == expected
    assert parsed.contents["x-wr-timezone"][0].value == timezone


def test_alarms_ring_at_nine_local_across_a_dst_change_and_on_a_leap_day():
    expiry = dt.date(2027, 4, 2)
    assert reminder_instant(expiry, 7, "Europe/Athens") == dt.datetime(2027, 3, 26, 7, 0, tzinfo=dt.UTC)  # EET
    assert reminder_instant(expiry, 1, "Europe/Athens") == dt.datetime(2027, 4, 1, 6, 0, tzinfo=dt.UTC)  # EEST
    leap = dt.date(2028, 2, 29)
    assert reminder_instant(leap, 0, "Pacific/Auckland") == dt.datetime(2028, 2, 28, 20, 0, tzinfo=dt.UTC)
    triggers = [alarm.decoded("TRIGGER") for alarm in icalendar.Calendar.from_ical(feed("athens")).walk("VALARM")]
    assert dt.datetime(2027, 4, 1, 6, 0, tzinfo=dt.UTC) in triggers


@pytest.mark.parametrize("user", sorted(USERS))
def test_an_edit_keeps_the_uid_and_raises_the_sequence(user):
    timezone, offsets, [warranty, *others] = USERS[user]
    edited = FeedWarranty(
        warranty.receipt_id, warranty.expiry + dt.timedelta(days=31), warranty.store_name, warranty.version + 1,
        CHANGED + dt.timedelta(hours=1), warranty.extended,
    )  # fmt: skip

    after_text = calendar([edited, *others], offsets, timezone, OWNER, TODAY)

    for parse in (_icalendar_sequences, _vobject_sequences):
        before, after = parse(feed(user)), parse(after_text)
        assert set(before) == set(after)
        assert after[uid(warranty)] > before[uid(warranty)]
        assert all(after[key] == before[key] for key in before if key != uid(warranty))


def _icalendar_sequences(text: bytes) -> dict[str, int]:
    return {str(event["UID"]): int(event["SEQUENCE"]) for event in icalendar.Calendar.from_ical(text).walk("VEVENT")}


def _vobject_sequences(text: bytes) -> dict[str, int]:
    parsed = vobject.readOne(text.decode("utf-8"))
    return {event.uid.value: int(event.sequence.value) for event in parsed.vevent_list}


def test_a_literal_backslash_n_stays_text_and_never_becomes_a_line_break():
    text = calendar([FeedWarranty("id", dt.date(2027, 1, 1), "Café\\Nord \\N", 1, CHANGED)], (1,), "UTC", OWNER, TODAY)

    assert b"SUMMARY:Warranty ends: Caf\xc3\xa9\\\\Nord \\\\N\r\n" in text
    assert vobject.readOne(text.decode()).vevent.summary.value == "Warranty ends: Café\\Nord \\N"


def test_a_feed_without_warranties_still_holds_a_component_its_timezone():
    text = calendar([], (30,), "Europe/Athens", OWNER, TODAY)

    parsed = icalendar.Calendar.from_ical(text)
    assert [component.name for component in parsed.subcomponents] == ["VTIMEZONE"]
    assert str(parsed.subcomponents[0]["TZID"]) == "Europe/Athens"


def test_a_huge_account_gets_the_soonest_warranties_within_the_size_cap():
    name = "😀" * 200  # the longest store name, in 4-byte characters
    warranties = [
        FeedWarranty(f"{index:08d}", dt.date(2027, 1, 1) + dt.timedelta(days=index), name, 1, CHANGED)
        for index in range(2000)
    ]
    text = calendar(warranties, (0, 1, 3, 7, 14, 30, 60, 90), "UTC", OWNER, TODAY)

    assert len(text) <= MAX_FEED_BYTES
    events = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert 100 < len(events) < 2000
    assert [event.decoded("DTSTART") for event in events] == [w.expiry for w in warranties[: len(events)]]


def test_the_utc_feed_shows_the_extended_cover_and_leaves_the_voided_warranty_out():
    events = {str(event["SUMMARY"]): event for event in icalendar.Calendar.from_ical(feed("utc")).walk("VEVENT")}

    assert set(events) == {"Extended warranty ends: Apple Store", "Warranty ends: a receipt"}
    assert events["Extended warranty ends: Apple Store"].decoded("DTSTART") == dt.date(2029, 6, 30)
