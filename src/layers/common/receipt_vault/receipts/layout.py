"""How a receipt is laid out in the table: its key, the index keys derived from its content and
status, and the attributes every write stamps. Part of data access (store.py writes with it).

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

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import AddToSet, CopyOf
from receipt_vault.receipts.content import content_hash
from receipt_vault.receipts.models import EXTRACTABLE_FIELDS, ReceiptCreate, ReceiptFields
from receipt_vault.receipts.rules import (
    check_size,
    content_as_stored,
    create_fingerprint,
    effective_warranty,
    is_warranty_live,
    soft_delete_expiry,
    with_derived_fields,
)
from receipt_vault.receipts.status import ACTIVE, DELETED
from receipt_vault.shapes import DynamoItem

# Membership of both warranty indexes: ByWarrantyExpiry and ByScheduledJob's EXPIRY# partitions.
WARRANTY_INDEX_ATTRIBUTES = ("warrantyPK", "warrantySK", "jobPK", "jobSK")
WARRANTY_SHADOW_ATTRIBUTES = ("warrantyExpiryKey", "warrantyJobKey")


def filled_fields(content: DynamoItem, as_value: Callable[[list[str]], object]) -> DynamoItem:
    """`filledFields`: the LLM-extractable fields that have ever held a value, added to on every
    write without reading it. A stale device's unmarked value may fill a field that never had
    one; a field that had one and has none now was removed, and its removal stands (merge.py)."""
    filled = sorted(name for name in EXTRACTABLE_FIELDS if name in content)
    return {"filledFields": as_value(filled)} if filled else {}


@dataclass
class IndexPlacement:
    """Index attributes to set and to remove for one write."""

    set: dict[str, object] = field(default_factory=dict)  # attribute values and update actions (CopyOf...)
    remove: list[str] = field(default_factory=list)


def content_index_placement(receipt_id: str, content: DynamoItem, today: dt.date) -> IndexPlacement:
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
    expiry, _ = effective_warranty(content)
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


def warranty_rejoin(user_id: str, receipt_id: str) -> DynamoItem:
    """SET values that put a receipt back into the warranty indexes from its shadow keys, for a
    write that does not know the warranty (a status change, a restore)."""
    return {
        "warrantyPK": keys.warranty_pk(user_id),
        "warrantySK": CopyOf("warrantyExpiryKey"),
        "jobPK": CopyOf("warrantyJobKey"),
        "jobSK": keys.receipt_job_sk(user_id, receipt_id),
    }


def version_fields(receipt_id: str, version: object, now: str) -> DynamoItem:
    """What every write stamps: the new version and the delta-sync position."""
    return {
        "serverVersion": version,
        "updatedAt": now,
        "byUpdatedSK": keys.by_updated_sk(now, receipt_id),
    }


def new_receipt_item(
    user_id: str,
    receipt_id: str,
    request: ReceiptCreate,
    moment: dt.datetime,
    mutation_id: str | None = None,
    server_owned: DynamoItem | None = None,
) -> DynamoItem:
    """`server_owned`: fields the server sets at creation (a received receipt's `source` and
    `email`)."""
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
        **(server_owned or {}),
    }
    if mutation_id:
        item["mutations"] = [mutation_id]
    return item


def content_changes(
    user_id: str, receipt_id: str, content: DynamoItem, status: str, moment: dt.datetime
) -> IndexPlacement:
    """SET and REMOVE for replacing the client-writable content, and every key derived from it."""
    content = content_as_stored(content)
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


def replacement_changes(user_id: str, server: DynamoItem, content: DynamoItem, moment: dt.datetime) -> IndexPlacement:
    """Replace a stored receipt's client-writable content with `content` (status included), when
    the stored item is known: a move to `deleted` is a soft delete, as DELETE makes it."""
    receipt_id = server["receiptId"]
    status: str = content["status"] if "status" in content else server["status"]
    changes = content_changes(user_id, receipt_id, content, status, moment)
    if status == DELETED and server["status"] != DELETED:
        changes.set.update(
            previousStatus=server["status"],
            previousStatusPK=keys.status_pk(user_id, server["status"]),
            deletedAt=iso_timestamp(moment),
            ttl=soft_delete_expiry(moment),
        )
    return changes


def soft_delete_changes(user_id: str, moment: dt.datetime, expires_at: int) -> IndexPlacement:
    """A soft delete of a receipt that is not deleted, remembering its status for a restore;
    DynamoDB's TTL removes it at `expires_at` (epoch seconds)."""
    return IndexPlacement(
        set={
            "previousStatus": CopyOf("status"),
            "previousStatusPK": CopyOf("statusPK"),
            "status": DELETED,
            "statusPK": keys.status_pk(user_id, DELETED),
            "deletedAt": iso_timestamp(moment),
            "ttl": expires_at,
        },
        remove=list(WARRANTY_INDEX_ATTRIBUTES),
    )
