"""The weekly digest's content, from a user's live warranties: pure, no AWS.

"This week" and "this month" are the next 7 and 30 days from the user's local today, so a
digest read on a Monday morning anywhere says the same thing whatever the calendar month does.
Warranty value is the receipts' totals, summed per currency: amounts in different currencies
are never added together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from receipt_vault.push import Notification
from receipt_vault.receipts.rules import effective_warranty
from receipt_vault.shapes import DynamoItem, JsonObject

WEEK = dt.timedelta(days=7)
MONTH = dt.timedelta(days=30)
LEDGER_RETENTION = dt.timedelta(days=35)


@dataclass(frozen=True)
class Soonest:
    receipt_id: str
    store_name: str | None
    expiry_date: dt.date


@dataclass(frozen=True)
class WarrantySummary:
    expiring_this_week: int
    expiring_this_month: int
    total_active: int
    value_by_currency: dict[str, Decimal]
    soonest: Soonest

    def as_dict(self) -> JsonObject:
        return {
            "expiringThisWeek": self.expiring_this_week,
            "expiringThisMonth": self.expiring_this_month,
            "totalActive": self.total_active,
            "totalValue": {currency: str(amount) for currency, amount in self.value_by_currency.items()},
            "soonest": {
                "receiptId": self.soonest.receipt_id,
                "storeName": self.soonest.store_name,
                "warrantyExpiryDate": self.soonest.expiry_date.isoformat(),
            },
        }


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _amount(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def summarize(warranties: Iterable[DynamoItem], today: dt.date) -> WarrantySummary | None:
    """None when the user has no live warranty: they get no digest."""
    total = week = month = 0
    values: dict[str, Decimal] = {}
    soonest: Soonest | None = None
    for receipt in warranties:
        ends, _ = effective_warranty(receipt)
        if ends is None:
            continue  # voided or ended by the user, not yet swept out of the index
        expiry = dt.date.fromisoformat(ends)
        if expiry < today:
            continue  # ended, not yet swept out of the index
        total += 1
        week += expiry < today + WEEK
        month += expiry < today + MONTH
        amount, currency = _amount(receipt.get("totalAmount")), receipt.get("currency")
        if amount is not None and currency:
            values[currency] = values.get(currency, Decimal(0)) + amount
        if soonest is None or expiry < soonest.expiry_date:
            soonest = Soonest(receipt["receiptId"], receipt.get("storeName"), expiry)
    if soonest is None:
        return None
    return WarrantySummary(week, month, total, dict(sorted(values.items())), soonest)


def _count(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def notification(summary: WarrantySummary) -> Notification:
    value = " + ".join(f"{amount} {currency}" for currency, amount in summary.value_by_currency.items())
    soonest = summary.soonest
    when = soonest.expiry_date.strftime("%d %b").lstrip("0")
    body = (
        f"{_count(summary.expiring_this_week, 'warranty ends', 'warranties end')} this week, "
        f"{summary.expiring_this_month} this month. "
        f"{_count(summary.total_active, 'active warranty', 'active warranties')}"
        + (f" worth {value}" if value else "")
        + f". Next to end: {soonest.store_name or 'a purchase'} on {when}."
    )
    return Notification(
        title="Your warranties this week",
        body=body,
        data={
            "type": "weeklyDigest",
            "receiptId": soonest.receipt_id,
            "expiringThisWeek": str(summary.expiring_this_week),
            "expiringThisMonth": str(summary.expiring_this_month),
            "totalActive": str(summary.total_active),
        },
    )
