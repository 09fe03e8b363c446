"""Receipt use cases: create, read, list, full update, status change, soft delete, restore.

Every write is one conditional DynamoDB call, and none reads the item first. Where a write
depends on a fact the request does not carry (the current status on a full update, whether
the warranty is live on reactivation), it assumes the common case in its condition. If the
assumption was wrong, the failed write returns the current item, and the write is replanned
once from that item, still conditional on the version. A concurrent writer therefore always
meets a condition and never an overwrite.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import CopyOf, Increment, serialize_numbers
from receipt_vault.errors import BadRequestError, GoneError, NotFoundError, VersionConflictError
from receipt_vault.json_codec import to_json
from receipt_vault.pagination import PageTokenCodec
from receipt_vault.receipts import rules
from receipt_vault.receipts.models import ReceiptCreate, ReceiptListQuery, ReceiptUpdate, StatusChange
from receipt_vault.receipts.rules import WARRANTY_INDEX_ATTRIBUTES, normalize_receipt_id, to_api
from receipt_vault.receipts.status import ACTIVE, DELETED
from receipt_vault.receipts.store import ListFilters, ReceiptStore


class ReceiptService:
    def __init__(self, store: ReceiptStore, page_tokens: PageTokenCodec) -> None:
        self.store = store
        self.page_tokens = page_tokens

    # -- reads ---------------------------------------------------------------------------

    def get(self, user_id: str, receipt_id: str) -> dict[str, Any]:
        item = self.store.get(user_id, normalize_receipt_id(receipt_id))
        if item is None:
            raise NotFoundError("receipt not found")
        return to_api(item)

    def list_receipts(self, user_id: str, query: ReceiptListQuery) -> dict[str, Any]:
        if query.from_ and query.to and query.from_ > query.to:
            raise BadRequestError("'from' must not be after 'to'")
        scope = query.filters()
        start_key = self.page_tokens.decode(query.nextToken, user_id, scope) if query.nextToken else None
        filters = ListFilters(query.from_, query.to, query.category, query.store, query.status)
        page = self.store.list_page(user_id, filters, query.limit, start_key)
        result: dict[str, Any] = {"items": [to_api(item) for item in page.items]}
        if page.last_key:
            result["nextToken"] = self.page_tokens.encode(page.last_key, user_id, scope)
        return result

    # -- writes --------------------------------------------------------------------------

    def create(self, user_id: str, request: ReceiptCreate, moment: dt.datetime) -> tuple[dict[str, Any], bool]:
        """Returns the receipt and whether it is new. A retried create with the same id and
        content returns the stored receipt; the same id with other content is a conflict."""
        receipt_id = normalize_receipt_id(request.receiptId) if request.receiptId else str(uuid.uuid4())
        item = rules.new_receipt_item(user_id, receipt_id, request, moment)
        result = self.store.create(item)
        if result.succeeded:
            return to_api(item), True
        current = result.item or {}
        if current.get("createFingerprint") == item["createFingerprint"]:
            return to_api(current), False
        raise VersionConflictError("a receipt with this id already exists with other content", to_api(current))

    def update(self, user_id: str, receipt_id: str, request: ReceiptUpdate, moment: dt.datetime) -> dict[str, Any]:
        """A full update, as one conditional write. A body GET returned may come back as it is:
        its server-owned fields must equal the stored ones (the condition checks them, and a
        failed write says which differ), and an update that changes nothing writes nothing."""
        receipt_id = normalize_receipt_id(receipt_id)
        if request.receiptId is not None and normalize_receipt_id(request.receiptId) != receipt_id:
            raise BadRequestError("receiptId in the body is not the receipt of the path")
        echoed = request.echoed_server_fields()
        if request.status == DELETED:
            self._refuse_a_delete_by_put(user_id, receipt_id)
        status = request.status or ACTIVE
        for _ in range(2):
            changes = rules.full_update_changes(user_id, receipt_id, request, status, moment)
            condition = _based_on(request.serverVersion) & _equal_to(echoed) & _changes_something(changes)
            if request.status is None:  # keep the stored status; assume it is `status`
                condition &= Attr("status").eq(status)
            result = self.store.update(
                user_id,
                receipt_id,
                {**changes.set, **_next_version(receipt_id, request.serverVersion, moment)},
                changes.remove,
                condition,
            )
            if result.succeeded:
                return to_api(result.item or {})
            current = _explain_failed_write(result.item, request.serverVersion)
            differing = sorted(name for name, value in echoed.items() if not _same_value(current.get(name), value))
            if differing:
                raise BadRequestError(
                    "server-owned fields differ from the stored receipt: send them unchanged, or leave them out",
                    [{"field": name, "message": "differs from the stored value"} for name in differing],
                )
            if current["status"] != status and request.status is None:
                status = current["status"]  # the stored status was another: plan again with it
                continue
            if current.get("contentHash") == changes.set["contentHash"] and current["status"] == status:
                return to_api(current)  # nothing to change: nothing written, no version bumped
        raise VersionConflictError("the receipt changed during the update", None)

    def _refuse_a_delete_by_put(self, user_id: str, receipt_id: str) -> None:
        """`status: deleted` comes only from GET's representation of a deleted receipt, whose
        update is the usual 409; on any other receipt it is a 400: DELETE deletes."""
        current = self.store.get(user_id, receipt_id)
        if current is None:
            raise NotFoundError("receipt not found")
        if current["status"] == DELETED:
            raise VersionConflictError("the receipt is deleted; restore it first", to_api(current))
        raise BadRequestError("a PUT never deletes a receipt: use DELETE")

    def change_status(
        self, user_id: str, receipt_id: str, request: StatusChange, moment: dt.datetime
    ) -> dict[str, Any]:
        """A status change; to the status the receipt already has, it writes nothing."""
        receipt_id = normalize_receipt_id(receipt_id)
        base = {
            "status": request.status,
            "statusPK": keys.status_pk(user_id, request.status),
            **_next_version(receipt_id, request.serverVersion, moment),
        }
        condition = _based_on(request.serverVersion) & Attr("status").ne(request.status)
        if request.status != ACTIVE:
            result = self.store.update(user_id, receipt_id, base, list(WARRANTY_INDEX_ATTRIBUTES), condition)
            if not result.succeeded:
                current = _explain_failed_write(result.item, request.serverVersion)
                if current["status"] == request.status:
                    return to_api(current)  # already so: nothing written
                raise VersionConflictError("the receipt changed", to_api(current))
            return to_api(result.item or {})
        return self._reactivate(user_id, receipt_id, base, [], condition, moment.date(), request.serverVersion)

    def delete(self, user_id: str, receipt_id: str, moment: dt.datetime) -> dict[str, Any]:
        """Soft delete: restorable for 30 days, then DynamoDB's TTL removes the item."""
        receipt_id = normalize_receipt_id(receipt_id)
        now = iso_timestamp(moment)
        result = self.store.update(
            user_id,
            receipt_id,
            {
                "previousStatus": CopyOf("status"),
                "previousStatusPK": CopyOf("statusPK"),
                "status": DELETED,
                "statusPK": keys.status_pk(user_id, DELETED),
                "deletedAt": now,
                "ttl": rules.soft_delete_expiry(moment),
                **_incremented_version(receipt_id, now),
            },
            list(WARRANTY_INDEX_ATTRIBUTES),
            Attr("status").ne(DELETED),
        )
        if result.succeeded:
            return to_api(result.item or {})
        if result.item is None:
            raise NotFoundError("receipt not found")
        return to_api(result.item)  # already deleted: deleting again changes nothing

    def restore(self, user_id: str, receipt_id: str, moment: dt.datetime) -> dict[str, Any]:
        receipt_id = normalize_receipt_id(receipt_id)
        now = iso_timestamp(moment)
        cutoff = rules.restore_cutoff(moment)
        base = {
            "status": CopyOf("previousStatus"),
            "statusPK": CopyOf("previousStatusPK"),
            **_incremented_version(receipt_id, now),
        }
        removed = ["previousStatus", "previousStatusPK", "deletedAt", "ttl"]
        within_window = Attr("status").eq(DELETED) & Attr("deletedAt").gt(cutoff) & Attr("previousStatus").exists()
        # Returning to a status other than active never rejoins the warranty index.
        result = self.store.update(
            user_id,
            receipt_id,
            base,
            removed + list(WARRANTY_INDEX_ATTRIBUTES),
            within_window & (Attr("previousStatus").ne(ACTIVE) | _no_live_warranty(moment.date())),
        )
        if result.succeeded:
            return to_api(result.item or {})
        current = result.item
        if current is None:
            raise NotFoundError("receipt not found")
        if current.get("status") != DELETED:
            return to_api(current)  # already restored
        if current.get("deletedAt", "") <= cutoff:
            raise GoneError("the restore window of 30 days has passed")
        result = self.store.update(
            user_id,
            receipt_id,
            {**base, **rules.warranty_rejoin(user_id, receipt_id)},
            removed,
            within_window & Attr("previousStatus").eq(ACTIVE) & _live_warranty(moment.date()),
        )
        if not result.succeeded:
            raise VersionConflictError("the receipt changed during the restore", to_api(result.item or {}))
        return to_api(result.item or {})

    def _reactivate(
        self,
        user_id: str,
        receipt_id: str,
        set_values: dict[str, Any],
        remove: list[str],
        condition: ConditionBase,
        today: dt.date,
        expected_version: int,
    ) -> dict[str, Any]:
        """Make a receipt active; it rejoins ByWarrantyExpiry only if its warranty is live."""
        result = self.store.update(
            user_id,
            receipt_id,
            set_values,
            remove + list(WARRANTY_INDEX_ATTRIBUTES),
            condition & _no_live_warranty(today),
        )
        if result.succeeded:
            return to_api(result.item or {})
        current = _explain_failed_write(result.item, expected_version)
        if current["status"] == ACTIVE:
            return to_api(current)  # already active: nothing written
        result = self.store.update(
            user_id,
            receipt_id,
            {**set_values, **rules.warranty_rejoin(user_id, receipt_id)},
            remove,
            condition & _live_warranty(today),
        )
        if not result.succeeded:
            _explain_failed_write(result.item, expected_version)
            raise VersionConflictError("the receipt changed", to_api(result.item or {}))
        return to_api(result.item or {})


def _based_on(version: int) -> ConditionBase:
    return Attr("serverVersion").eq(version) & Attr("status").ne(DELETED)


def _equal_to(echoed: dict[str, Any]) -> ConditionBase:
    """Each echoed server-owned field equals the stored one (an absent attribute never does)."""
    condition: ConditionBase = Attr("PK").exists()
    for name, value in echoed.items():
        condition &= Attr(name).eq(value)
    return condition


def _changes_something(changes: rules.IndexPlacement) -> ConditionBase:
    """The content or the status would change (status is checked with the write's own status
    condition when the request keeps it)."""
    new_hash = changes.set["contentHash"]
    return (
        Attr("contentHash").not_exists() | Attr("contentHash").ne(new_hash) | Attr("status").ne(changes.set["status"])
    )


def _same_value(stored: Any, echoed: Any) -> bool:
    """A stored value (numbers as Decimal) against one from a JSON body (numbers as float)."""
    return to_json(stored, sort_keys=True) == to_json(serialize_numbers(echoed), sort_keys=True)


def _next_version(receipt_id: str, base_version: int, moment: dt.datetime) -> dict[str, Any]:
    return rules.version_fields(receipt_id, base_version + 1, iso_timestamp(moment))


def _incremented_version(receipt_id: str, now: str) -> dict[str, Any]:
    """For writes that do not name a base version (delete, restore)."""
    return rules.version_fields(receipt_id, Increment(1), now)


def _live_warranty(today: dt.date) -> ConditionBase:
    return Attr("warrantyExpiryKey").gte(today.isoformat())


def _no_live_warranty(today: dt.date) -> ConditionBase:
    return Attr("warrantyExpiryKey").not_exists() | Attr("warrantyExpiryKey").lt(today.isoformat())


def _explain_failed_write(current: dict[str, Any] | None, expected_version: int) -> dict[str, Any]:
    """Raise the error a failed versioned write means; return the item if only an assumption
    about its state failed, so the caller can replan."""
    if current is None:
        raise NotFoundError("receipt not found")
    if current.get("serverVersion") != expected_version:
        raise VersionConflictError("the receipt was changed by another write", to_api(current))
    if current.get("status") == DELETED:
        raise VersionConflictError("the receipt is deleted; restore it first", to_api(current))
    return current
