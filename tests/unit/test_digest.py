"""The weekly digest's content: counts, value per currency, the soonest warranty to end."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from weekly_summary import digest

TODAY = dt.date(2026, 11, 23)  # a Monday


def warranty(receipt_id: str, days: int, amount: str | None = "100.00", currency: str | None = "EUR", store=None):
    return {
        "receiptId": receipt_id,
        "warrantyExpiryDate": (TODAY + dt.timedelta(days=days)).isoformat(),
        "totalAmount": amount,
        "currency": currency,
        "storeName": store or f"Store {receipt_id}",
    }


def test_the_summary_counts_this_week_this_month_and_all_and_sums_value_per_currency():
    warranties = [
        warranty("a", 0, "10.50"),
        warranty("b", 6, "20.25"),  # last day of "this week"
        warranty("c", 7, "5"),
        warranty("d", 29, "100", "USD"),  # last day of "this month"
        warranty("e", 30, "1.10", "USD"),
        warranty("f", 400, None, None),  # no amount: counted, not valued
    ]

    summary = digest.summarize(warranties, TODAY)

    assert (summary.expiring_this_week, summary.expiring_this_month, summary.total_active) == (2, 4, 6)
    assert summary.value_by_currency == {"EUR": Decimal("35.75"), "USD": Decimal("101.10")}
    assert summary.soonest == digest.Soonest("a", "Store a", TODAY)


def test_a_warranty_that_ended_but_was_not_swept_yet_is_left_out():
    summary = digest.summarize([warranty("old", -1), warranty("new", 10)], TODAY)

    assert summary.total_active == 1 and summary.soonest.receipt_id == "new"


def test_no_live_warranty_means_no_digest():
    assert digest.summarize([], TODAY) is None
    assert digest.summarize([warranty("old", -3)], TODAY) is None


def test_the_notification_reads_well_and_deep_links_the_soonest_receipt():
    summary = digest.summarize([warranty("a", 2, "1299.00", store="Dyson"), warranty("b", 50, "10.00")], TODAY)

    notification = digest.notification(summary)

    assert notification.title == "Your warranties this week"
    assert notification.body == (
        "1 warranty ends this week, 1 this month. 2 active warranties worth 1309.00 EUR. Next to end: Dyson on 25 Nov."
    )
    assert notification.data["receiptId"] == "a" and notification.data["type"] == "weeklyDigest"
    assert all(isinstance(value, str) for value in notification.data.values())


def test_the_ledger_week_is_the_iso_week():
    assert digest.iso_week(dt.date(2026, 11, 23)) == "2026-W48"
    assert digest.iso_week(dt.date(2027, 1, 1)) == "2026-W53"


def test_over_a_leap_day_this_week_and_this_month_are_still_7_and_30_days():
    monday = dt.date(2028, 2, 28)
    warranties = [
        {"receiptId": "leap", "warrantyExpiryDate": "2028-02-29", "storeName": "A"},
        {"receiptId": "week", "warrantyExpiryDate": "2028-03-05", "storeName": "B"},  # the 7th day
        {"receiptId": "month", "warrantyExpiryDate": "2028-03-28", "storeName": "C"},  # the 30th day
        {"receiptId": "later", "warrantyExpiryDate": "2028-03-29", "storeName": "D"},
    ]

    summary = digest.summarize(warranties, monday)

    assert (summary.expiring_this_week, summary.expiring_this_month, summary.total_active) == (2, 3, 4)
    assert digest.iso_week(monday) == "2028-W09"


def test_the_cover_in_force_counts_and_a_voided_warranty_does_not():
    extended = {
        **warranty("extended", -2),  # the manufacturer's cover ended two days ago...
        "extendedWarranty": {"provider": "CarePlus", "expiryDate": (TODAY + dt.timedelta(days=3)).isoformat()},
    }
    voided = {**warranty("voided", 5), "warrantyStatus": "void"}

    summary = digest.summarize([extended, voided], TODAY)

    assert summary is not None  # ...the extended one holds
    assert (summary.total_active, summary.expiring_this_week) == (1, 1)
    assert summary.soonest.receipt_id == "extended"
