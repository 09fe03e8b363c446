"""Receipt business rules, pure: derived fields, warranty liveness, the soft-delete window, the
record of applied pushes, and the public view. No storage here: how a receipt is laid out in
the table (its index keys) is receipts/layout.py, and writing it is receipts/store.py.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import uuid
from typing import TypeGuard

from receipt_vault.clock import iso_timestamp
from receipt_vault.errors import NotFoundError, PayloadTooLargeError
from receipt_vault.receipts.content import MAX_RECEIPT_BYTES, canonical_content, content_hash, content_size
from receipt_vault.receipts.models import PUBLIC_FIELDS, ReceiptCreate, duplicates_as_shown
from receipt_vault.shapes import DynamoItem, JsonObject

SOFT_DELETE_RETENTION = dt.timedelta(days=30)


def add_months(start: dt.date, months: int) -> dt.date:
    """Calendar months, clamped to the month's end: 31 January + 1 month is 28/29 February."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def warranty_expiry_date(content: DynamoItem) -> str | None:
    """`warrantyExpiryDate` as it is stored, on every write path (create, PUT, push, refinement).

    The rule: a client sets the date by naming it in `userEditedFields`, and its date (or its
    removal) then stands. Otherwise the date is derived, `purchaseDate + warrantyMonths` in
    calendar months, and follows its inputs: without both there is none, and 0 months is no
    warranty. A date sent without that mark, such as the one GET returned, is read as derived.
    """
    if "warrantyExpiryDate" in (content.get("userEditedFields") or ()):
        return content.get("warrantyExpiryDate")
    months, purchased = content.get("warrantyMonths"), content.get("purchaseDate")
    if months is None or purchased is None or months == 0:
        return None
    # int(): a stored receipt's numbers come back from DynamoDB as Decimal.
    return add_months(dt.date.fromisoformat(purchased), int(months)).isoformat()


# The warranty states that end the cover whatever its dates say.
ENDED_WARRANTY_STATUSES = ("void", "expired")


def extended_warranty_expiry(content: DynamoItem) -> str | None:
    """When the extended cover ends: its date, or its months after the purchase."""
    extended = content.get("extendedWarranty")
    if not extended:
        return None
    if extended.get("expiryDate"):
        return str(extended["expiryDate"])
    months, purchased = extended.get("months"), content.get("purchaseDate")
    if months is None or purchased is None:
        return None
    return add_months(dt.date.fromisoformat(purchased), int(months)).isoformat()


def repair_extension_expiry(content: DynamoItem) -> str | None:
    """The latest end of cover a repair extended: its closedAt plus its extendsWarrantyMonths."""
    ends = [
        add_months(dt.date.fromisoformat(claim["closedAt"]), int(claim["extendsWarrantyMonths"])).isoformat()
        for claim in content.get("claims") or ()
        if claim.get("status") == "repaired" and claim.get("closedAt") and claim.get("extendsWarrantyMonths")
    ]
    return max(ends) if ends else None


def effective_warranty(content: DynamoItem) -> tuple[str | None, str | None]:
    """The warranty in force, as the indexes, the reminders, the digest and the calendar use it:
    the latest of the manufacturer's cover, the extended cover and a repair's extension, and
    which one that is (`manufacturer`, `extended` or `repair`). None for a warranty the user
    voided or ended, or a claim ended (replaced or refunded, with endsWarranty), or none at all."""
    if content.get("warrantyStatus") in ENDED_WARRANTY_STATUSES:
        return None, None
    if any(
        claim.get("status") in ("replaced", "refunded") and claim.get("endsWarranty")
        for claim in content.get("claims") or ()
    ):
        return None, None
    covers = [
        (end, cover)
        for end, cover in (
            (content.get("warrantyExpiryDate"), "manufacturer"),
            (extended_warranty_expiry(content), "extended"),
            (repair_extension_expiry(content), "repair"),
        )
        if end is not None
    ]
    if not covers:
        return None, None
    latest = max(end for end, _ in covers)
    return latest, next(cover for end, cover in covers if end == latest)  # a tie: the first cover


def with_derived_fields(content: DynamoItem) -> DynamoItem:
    """The content as stored: derived fields recomputed, in the one stored form (content.py)."""
    derived = dict(content)
    derived["warrantyExpiryDate"] = warranty_expiry_date(content)
    return canonical_content(derived)


def content_as_stored(content: DynamoItem) -> DynamoItem:
    """A write's client-writable content as it is stored: status apart, derived fields recomputed."""
    return with_derived_fields({name: value for name, value in content.items() if name != "status"})


def check_size(content: DynamoItem) -> None:
    if content_size(content) > MAX_RECEIPT_BYTES:
        raise PayloadTooLargeError(f"a receipt holds at most {MAX_RECEIPT_BYTES // 1024} KiB of content")


def is_warranty_live(expiry_date: str | None, today: dt.date) -> TypeGuard[str]:
    """A warranty is live through the whole of its expiry day."""
    return expiry_date is not None and expiry_date >= today.isoformat()


def create_fingerprint(request: ReceiptCreate) -> str:
    """Identifies what a create request means, so a retried create can be recognised as such,
    whatever the order of its tags or the spelling of an absent field."""
    meaning = {"status": request.status, "content": content_hash(with_derived_fields(request.content()))}
    return hashlib.sha256(json.dumps(meaning, sort_keys=True).encode("utf-8")).hexdigest()


# -- exactly-once push: the mutations a receipt has applied ------------------------------------

# A receipt remembers the ids of the last pushes applied to it (`mutations`), written in the
# same conditional write as their change, so erasure removes them with the receipt. A change
# keeps the last MAX_RECORDED_MUTATIONS ids; a push that changed nothing appends its id
# atomically, up to MAX_PENDING_MUTATIONS before the next change trims the list: at most about
# 4 KB. A device retries a lost push long before 32 later changes to one receipt.
MAX_RECORDED_MUTATIONS = 32
MAX_PENDING_MUTATIONS = 64


def recorded_mutations(stored: list[str] | None, mutation_id: str) -> list[str]:
    """The receipt's record of applied pushes with `mutation_id` added, trimmed."""
    kept = [recorded for recorded in stored or () if recorded != mutation_id]
    return [*kept, mutation_id][-MAX_RECORDED_MUTATIONS:]


def applied_mutation(item: DynamoItem | None, mutation_id: str | None) -> bool:
    """Whether the push `mutation_id` was applied to the stored receipt already."""
    return bool(item and mutation_id and mutation_id in (item.get("mutations") or ()))


def soft_delete_expiry(moment: dt.datetime) -> int:
    """The TTL (epoch seconds) after which DynamoDB removes a soft-deleted receipt."""
    return int((moment + SOFT_DELETE_RETENTION).timestamp())


def restore_cutoff(moment: dt.datetime) -> str:
    """Receipts deleted before this instant are past the restore window."""
    return iso_timestamp(moment - SOFT_DELETE_RETENTION)


def normalize_receipt_id(receipt_id: str) -> str:
    """Receipt ids are UUIDs; the canonical form is lower case. Anything else is not found."""
    try:
        return str(uuid.UUID(receipt_id))
    except ValueError:
        raise NotFoundError("receipt not found") from None


def to_api(item: DynamoItem) -> JsonObject:
    """The public representation: key and index attributes stay inside the table."""
    shown = {name: value for name, value in item.items() if name in PUBLIC_FIELDS}
    if "possibleDuplicates" in shown:
        shown["possibleDuplicates"] = duplicates_as_shown(item["possibleDuplicates"])
    return shown
