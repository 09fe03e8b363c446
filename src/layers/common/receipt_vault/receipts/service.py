"""Receipt use cases: create, read, list, full update, status change, soft delete, restore.

Every write is one conditional DynamoDB call, and none reads the item first. Where a write
depends on a fact the request does not carry (the current status on a full update, whether
the warranty is live on reactivation), it assumes the common case in its condition. If the
assumption was wrong, the failed write returns the current item, and the write is replanned
once from that item, still conditional on the version. A concurrent writer therefore always
meets a condition and never an overwrite. Duplicate detection is not on this path: every
receipt write reaches the table's stream, where duplicate-checker examines it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from receipt_vault.errors import BadRequestError, GoneError, NotFoundError, VersionConflictError
from receipt_vault.json_codec import decimal_numbers, to_json
from receipt_vault.pagination import PageTokenCodec
from receipt_vault.receipts import rules
from receipt_vault.receipts.content import content_hash
from receipt_vault.receipts.models import ReceiptCreate, ReceiptListQuery, ReceiptUpdate, StatusChange
from receipt_vault.receipts.rules import normalize_receipt_id, to_api
from receipt_vault.receipts.status import ACTIVE, DELETED
from receipt_vault.receipts.store import ListFilters, ReceiptStore
from receipt_vault.shapes import DynamoItem, DynamoValue, JsonObject, JsonValue


class ReceiptService:
    def __init__(self, store: ReceiptStore, page_tokens: PageTokenCodec) -> None:
        self.store = store
        self.page_tokens = page_tokens

    # -- reads ---------------------------------------------------------------------------

    def get(self, user_id: str, receipt_id: str) -> JsonObject:
        item = self.store.get(user_id, normalize_receipt_id(receipt_id))
        if item is None:
            raise NotFoundError("receipt not found")
        return to_api(item)

    def list_receipts(self, user_id: str, query: ReceiptListQuery) -> JsonObject:
        if query.from_ and query.to and query.from_ > query.to:
            raise BadRequestError("'from' must not be after 'to'")
        scope = query.filters()
        start_key = self.page_tokens.decode(query.nextToken, user_id, scope) if query.nextToken else None
        filters = ListFilters(query.from_, query.to, query.category, query.store, query.status)
        page = self.store.list_page(user_id, filters, query.limit, start_key)
        result: JsonObject = {"items": [to_api(item) for item in page.items]}
        if page.last_key:
            result["nextToken"] = self.page_tokens.encode(page.last_key, user_id, scope)
        return result

    # -- writes --------------------------------------------------------------------------

    def create(self, user_id: str, request: ReceiptCreate, moment: dt.datetime) -> tuple[JsonObject, bool]:
        """Returns the receipt and whether it is new. A retried create with the same id and
        content returns the stored receipt; the same id with other content is a conflict."""
        receipt_id = normalize_receipt_id(request.receiptId) if request.receiptId else str(uuid.uuid4())
        result = self.store.create(user_id, receipt_id, request, moment)
        current = result.item or {}
        if result.succeeded:
            return to_api(current), True
        if current.get("createFingerprint") == rules.create_fingerprint(request):
            return to_api(current), False
        raise VersionConflictError("a receipt with this id already exists with other content", to_api(current))

    def update(self, user_id: str, receipt_id: str, request: ReceiptUpdate, moment: dt.datetime) -> JsonObject:
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
        content = request.content()
        new_hash = content_hash(rules.content_as_stored(content))
        for _ in range(2):
            result = self.store.update_content(
                user_id,
                receipt_id,
                content,
                status,
                moment,
                version=request.serverVersion,
                echoed=echoed,
                assumed_status=request.status is None,  # keep the stored status; assume it is `status`
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
            if current.get("contentHash") == new_hash and current["status"] == status:
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

    def change_status(self, user_id: str, receipt_id: str, request: StatusChange, moment: dt.datetime) -> JsonObject:
        """A status change; to the status the receipt already has, it writes nothing. Becoming
        active, the write first assumes the warranty has ended, then, if the stored one is live,
        rejoins the warranty indexes."""
        receipt_id = normalize_receipt_id(receipt_id)
        version = request.serverVersion
        result = self.store.change_status(
            user_id, receipt_id, request.status, moment, version=version, live_warranty=False
        )
        if result.succeeded:
            return to_api(result.item or {})
        current = _explain_failed_write(result.item, version)
        if current["status"] == request.status:
            return to_api(current)  # already so: nothing written
        if request.status != ACTIVE:
            raise VersionConflictError("the receipt changed", to_api(current))
        result = self.store.change_status(user_id, receipt_id, ACTIVE, moment, version=version, live_warranty=True)
        if not result.succeeded:
            _explain_failed_write(result.item, version)
            raise VersionConflictError("the receipt changed", to_api(result.item or {}))
        return to_api(result.item or {})

    def delete(self, user_id: str, receipt_id: str, moment: dt.datetime) -> JsonObject:
        """Soft delete: restorable for 30 days, then DynamoDB's TTL removes the item."""
        receipt_id = normalize_receipt_id(receipt_id)
        result = self.store.soft_delete(user_id, receipt_id, moment, rules.soft_delete_expiry(moment))
        if result.succeeded:
            return to_api(result.item or {})
        if result.item is None:
            raise NotFoundError("receipt not found")
        return to_api(result.item)  # already deleted: deleting again changes nothing

    def restore(self, user_id: str, receipt_id: str, moment: dt.datetime) -> JsonObject:
        """Back to the status before the delete, within the restore window. The write first
        assumes the receipt does not rejoin the warranty indexes, then, if it does, rejoins."""
        receipt_id = normalize_receipt_id(receipt_id)
        cutoff = rules.restore_cutoff(moment)
        result = self.store.restore(user_id, receipt_id, moment, deleted_after=cutoff, live_warranty=False)
        if result.succeeded:
            return to_api(result.item or {})
        current = result.item
        if current is None:
            raise NotFoundError("receipt not found")
        if current.get("status") != DELETED:
            return to_api(current)  # already restored
        if current.get("deletedAt", "") <= cutoff:
            raise GoneError("the restore window of 30 days has passed")
        result = self.store.restore(user_id, receipt_id, moment, deleted_after=cutoff, live_warranty=True)
        if not result.succeeded:
            raise VersionConflictError("the receipt changed during the restore", to_api(result.item or {}))
        return to_api(result.item or {})


def _same_value(stored: DynamoValue, echoed: JsonValue) -> bool:
    """A stored value (numbers as Decimal) against one from a JSON body (numbers as float); an
    empty echo stands for an absent attribute."""
    if stored is None and (echoed == {} or echoed == []):
        return True
    return to_json(stored, sort_keys=True) == to_json(decimal_numbers(echoed), sort_keys=True)


def _explain_failed_write(current: DynamoItem | None, expected_version: int) -> DynamoItem:
    """Raise the error a failed versioned write means; return the item if only an assumption
    about its state failed, so the caller can replan."""
    if current is None:
        raise NotFoundError("receipt not found")
    if current.get("serverVersion") != expected_version:
        raise VersionConflictError("the receipt was changed by another write", to_api(current))
    if current.get("status") == DELETED:
        raise VersionConflictError("the receipt is deleted; restore it first", to_api(current))
    return current
