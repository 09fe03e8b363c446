"""Receipt business rules, pure and free of boto3: derived fields and index placement.

Index placement is the subtle part. Every index key is derived from the receipt's content and
status (see keys.py), and a sparse key is removed, never blanked, when the receipt leaves an
index. ByWarrantyExpiry, and the `EXPIRY#` partitions of ByScheduledJob that the warranty
checker reads, hold only active receipts whose warranty has not expired.

Writes never read the item first. A status change does not know the receipt's warranty, so
the receipt keeps shadow copies of its warranty keys (`warrantyExpiryKey`, `warrantyJobKey`).
Rejoining the indexes copies those attributes inside the update, guarded by a condition that
the warranty is still live.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import AddToSet, CopyOf
from receipt_vault.errors import NotFoundError, PayloadTooLargeError
from receipt_vault.receipts.content import MAX_RECEIPT_BYTES, canonical_content, content_hash, content_size
from receipt_vault.receipts.models import EXTRACTABLE_FIELDS, PUBLIC_FIELDS, ReceiptCreate, ReceiptFields
from receipt_vault.receipts.status import ACTIVE, DELETED

SOFT_DELETE_RETENTION = dt.timedelta(days=30)

# Attributes derived from content; a full update recomputes or removes each of them.
CONTENT_INDEX_ATTRIBUTES = ("byDateSK", "byCategorySK", "byStoreSK", "warrantyExpiryKey", "warrantyJobKey")
# Membership of both warranty indexes: ByWarrantyExpiry and ByScheduledJob's EXPIRY# partitions.
WARRANTY_INDEX_ATTRIBUTES = ("warrantyPK", "warrantySK", "jobPK", "jobSK")
WARRANTY_SHADOW_ATTRIBUTES = ("warrantyExpiryKey", "warrantyJobKey")


def add_months(start: dt.date, months: int) -> dt.date:
    """Calendar months, clamped to the month's end: 31 January + 1 month is 28/29 February."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def warranty_expiry_date(content: dict[str, Any]) -> str | None:
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


def with_derived_fields(content: dict[str, Any]) -> dict[str, Any]:
    """The content as stored: derived fields recomputed, in the one stored form (content.py)."""
    derived = dict(content)
    derived["warrantyExpiryDate"] = warranty_expiry_date(content)
    return canonical_content(derived)


def filled_fields(content: dict[str, Any], as_value: Any) -> dict[str, Any]:
    """`filledFields`: the LLM-extractable fields that have ever held a value, added to on every
    write without reading it. A stale device's unmarked value may fill a field that never had
    one; a field that had one and has none now was removed, and its removal stands (merge.py)."""
    filled = sorted(name for name in EXTRACTABLE_FIELDS if name in content)
    return {"filledFields": as_value(filled)} if filled else {}


def check_size(content: dict[str, Any]) -> None:
    if content_size(content) > MAX_RECEIPT_BYTES:
        raise PayloadTooLargeError(f"a receipt holds at most {MAX_RECEIPT_BYTES // 1024} KiB of content")


def is_warranty_live(expiry_date: str | None, today: dt.date) -> bool:
    """A warranty is live through the whole of its expiry day."""
    return expiry_date is not None and expiry_date >= today.isoformat()


@dataclass
class IndexPlacement:
    """Index attributes to set and to remove for one write."""

    set: dict[str, str] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)


def content_index_placement(receipt_id: str, content: dict[str, Any], today: dt.date) -> IndexPlacement:
    """Keys that depend on the content: date, category, store and the warranty shadow keys."""
    placement = IndexPlacement()
    sort_date = content.get("purchaseDate") or keys.UNDATED_SORT_DATE
    date_suffix = keys.by_date_sk(sort_date, receipt_id)
    placement.set["byDateSK"] = date_suffix
    for attribute, value, prefix in (
        ("byCategorySK", content.get("category"), keys.category_prefix),
        ("byStoreSK", content.get("storeName"), keys.store_prefix),
    ):
        if value:
            placement.set[attribute] = prefix(value) + date_suffix
        else:
            placement.remove.append(attribute)
    expiry = content.get("warrantyExpiryDate")
    if is_warranty_live(expiry, today):
        placement.set["warrantyExpiryKey"] = keys.warranty_sk(expiry, receipt_id)
        placement.set["warrantyJobKey"] = keys.expiry_job_pk(expiry)
    else:
        placement.remove.extend(WARRANTY_SHADOW_ATTRIBUTES)
    return placement


def warranty_index_placement(user_id: str, receipt_id: str, status: str, content: IndexPlacement) -> IndexPlacement:
    """Warranty index membership: active receipts with a live warranty only."""
    if status == ACTIVE and "warrantyExpiryKey" in content.set:
        return IndexPlacement(
            set={
                "warrantyPK": keys.warranty_pk(user_id),
                "warrantySK": content.set["warrantyExpiryKey"],
                "jobPK": content.set["warrantyJobKey"],
                "jobSK": keys.receipt_job_sk(user_id, receipt_id),
            }
        )
    return IndexPlacement(remove=list(WARRANTY_INDEX_ATTRIBUTES))


def warranty_rejoin(user_id: str, receipt_id: str) -> dict[str, Any]:
    """SET values that put a receipt back into the warranty indexes from its shadow keys, for a
    write that does not know the warranty (a status change, a restore)."""
    return {
        "warrantyPK": keys.warranty_pk(user_id),
        "warrantySK": CopyOf("warrantyExpiryKey"),
        "jobPK": CopyOf("warrantyJobKey"),
        "jobSK": keys.receipt_job_sk(user_id, receipt_id),
    }


def version_fields(receipt_id: str, version: Any, now: str) -> dict[str, Any]:
    """What every write stamps: the new version and the delta-sync position."""
    return {
        "serverVersion": version,
        "updatedAt": now,
        "byUpdatedSK": keys.by_updated_sk(now, receipt_id),
    }


def create_fingerprint(request: ReceiptCreate) -> str:
    """Identifies what a create request means, so a retried create can be recognised as such,
    whatever the order of its tags or the spelling of an absent field."""
    meaning = {"status": request.status, "content": content_hash(with_derived_fields(request.content()))}
    return hashlib.sha256(json.dumps(meaning, sort_keys=True).encode("utf-8")).hexdigest()


def new_receipt_item(
    user_id: str,
    receipt_id: str,
    request: ReceiptCreate,
    moment: dt.datetime,
    mutation_id: str | None = None,
) -> dict[str, Any]:
    now = iso_timestamp(moment)
    content = with_derived_fields(request.content())
    check_size(content)
    placement = content_index_placement(receipt_id, content, moment.date())
    warranty = warranty_index_placement(user_id, receipt_id, request.status, placement)
    item = {
        **keys.receipt_key(user_id, receipt_id),
        **content,
        **filled_fields(content, lambda filled: set(filled)),
        "receiptId": receipt_id,
        "status": request.status,
        "statusPK": keys.status_pk(user_id, request.status),
        "imageKeys": [],
        "thumbnailKeys": [],
        "createdAt": now,
        "createFingerprint": create_fingerprint(request),
        "contentHash": content_hash(content),
        **placement.set,
        **warranty.set,
        **version_fields(receipt_id, 1, now),
    }
    if mutation_id:
        item["mutations"] = [mutation_id]
    return item


def full_update_changes(
    user_id: str, receipt_id: str, fields: ReceiptFields, status: str, moment: dt.datetime
) -> IndexPlacement:
    """The SET and REMOVE lists of a full update that leaves the receipt in `status`."""
    return content_changes(user_id, receipt_id, fields.content(), status, moment)


def content_changes(
    user_id: str, receipt_id: str, content: dict[str, Any], status: str, moment: dt.datetime
) -> IndexPlacement:
    """SET and REMOVE for replacing the client-writable content, and every key derived from it."""
    content = with_derived_fields({name: value for name, value in content.items() if name != "status"})
    check_size(content)
    placement = content_index_placement(receipt_id, content, moment.date())
    warranty = warranty_index_placement(user_id, receipt_id, status, placement)
    editable = set(ReceiptFields.model_fields)
    return IndexPlacement(
        set={
            **content,
            **placement.set,
            **warranty.set,
            **filled_fields(content, lambda filled: AddToSet(frozenset(filled))),
            "status": status,
            "statusPK": keys.status_pk(user_id, status),
            "contentHash": content_hash(content),
        },
        remove=sorted((editable - content.keys()) | set(placement.remove) | set(warranty.remove)),
    )


def replacement_changes(
    user_id: str, server: dict[str, Any], content: dict[str, Any], moment: dt.datetime
) -> IndexPlacement:
    """Replace a stored receipt's client-writable content with `content` (status included), when
    the stored item is known: a move to `deleted` is a soft delete, as DELETE makes it."""
    receipt_id, status = server["receiptId"], content.get("status", server["status"])
    changes = content_changes(user_id, receipt_id, content, status, moment)
    if status == DELETED and server["status"] != DELETED:
        changes.set.update(
            previousStatus=server["status"],
            previousStatusPK=keys.status_pk(user_id, server["status"]),
            deletedAt=iso_timestamp(moment),
            ttl=soft_delete_expiry(moment),
        )
    return changes


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


def applied_mutation(item: dict[str, Any] | None, mutation_id: str | None) -> bool:
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


def to_api(item: dict[str, Any]) -> dict[str, Any]:
    """The public representation: key and index attributes stay inside the table."""
    return {name: value for name, value in item.items() if name in PUBLIC_FIELDS}
