"""The sync engine: delta pull, batch push with field-level merge, full reconciliation.

Pull boundary: a write is stamped with its `updatedAt` when its function starts, but it may
become visible in the ByUpdatedAt index a little later (the writing function's run time, plus
the index's replication lag). A pull therefore hands back `syncTimestamp` = its own start minus
SYNC_SAFETY_MARGIN, and the next pull starts there. A change that landed while a pull ran is
never skipped; at worst the device sees it twice, and it applies a receipt by its version.

Push: one BatchGetItem reads every pushed receipt, then each item is merged and written on its
own, conditional on the version read. If another write lands in between, that item is merged
again from what the failed write returned (at most MAX_WRITE_ATTEMPTS times); it never
overwrites. Each item gets its own outcome, and a bad item never fails the batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from receipt_vault.api import validation_details
from receipt_vault.clock import iso_timestamp
from receipt_vault.errors import BadRequestError
from receipt_vault.model_base import InputModel
from receipt_vault.pagination import PageTokenCodec
from receipt_vault.receipts.merge import CLIENT_WRITABLE_FIELDS, client_content, merge
from receipt_vault.receipts.models import ReceiptCreate, ReceiptFields, ReceiptId, Status
from receipt_vault.receipts.rules import new_receipt_item, normalize_receipt_id, to_api, with_derived_fields
from receipt_vault.receipts.status import DELETED
from receipt_vault.receipts.store import ReceiptStore

SYNC_SAFETY_MARGIN = dt.timedelta(seconds=60)
TOMBSTONE_WINDOW = dt.timedelta(days=30)  # soft-deleted receipts expire (TTL) after this
MAX_WRITE_ATTEMPTS = 3
IsoTimestamp = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class PullRequest(InputModel):
    lastSyncTimestamp: IsoTimestamp | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    cursor: Cursor | None = None


class FullRequest(InputModel):
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    cursor: Cursor | None = None


class PushRequest(InputModel):
    """Items are validated one by one, so that one bad item does not fail the batch."""

    items: Annotated[list[Any], Field(min_length=1)]


class PushItem(ReceiptFields):
    """The changes of one receipt since `serverVersion` (absent for a receipt made offline)."""

    receiptId: ReceiptId
    serverVersion: Annotated[int, Field(ge=1)] | None = None
    status: Status | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the device sent: a null removes the field."""
        present = self.model_fields_set & set(CLIENT_WRITABLE_FIELDS)
        return self.model_dump(include=present)


class SyncService:
    def __init__(
        self,
        store: ReceiptStore,
        page_tokens: PageTokenCodec,
        max_batch_size: int,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.store = store
        self.page_tokens = page_tokens
        self.max_batch_size = max_batch_size
        self.clock = clock

    # -- pull ----------------------------------------------------------------------------------

    def pull(self, user_id: str, request: PullRequest) -> dict[str, Any]:
        now = self.clock()
        scope = {"operation": "pull", "since": request.lastSyncTimestamp}
        if request.cursor:
            position = self.page_tokens.decode(request.cursor, user_id, scope)
            sync_timestamp, start_key = position["syncTimestamp"], position["lastKey"]
        else:
            sync_timestamp, start_key = iso_timestamp(now - SYNC_SAFETY_MARGIN), None
        if request.lastSyncTimestamp and request.lastSyncTimestamp < iso_timestamp(now - TOMBSTONE_WINDOW):
            # Deletions older than the tombstone window are gone: only a full sync is exact.
            return {
                "items": [],
                "deleted": [],
                "syncTimestamp": sync_timestamp,
                "nextCursor": None,
                "fullSyncRequired": True,
            }
        page = self.store.changed_since(user_id, request.lastSyncTimestamp, request.limit, start_key)
        return {
            "items": [to_api(item) for item in page.items if item["status"] != DELETED],
            "deleted": [item["receiptId"] for item in page.items if item["status"] == DELETED],
            "syncTimestamp": sync_timestamp,
            "nextCursor": self._cursor(page.last_key, sync_timestamp, user_id, scope),
            "fullSyncRequired": False,
        }

    def full(self, user_id: str, request: FullRequest) -> dict[str, Any]:
        scope = {"operation": "full"}
        if request.cursor:
            position = self.page_tokens.decode(request.cursor, user_id, scope)
            sync_timestamp, start_key = position["syncTimestamp"], position["lastKey"]
        else:
            sync_timestamp, start_key = iso_timestamp(self.clock() - SYNC_SAFETY_MARGIN), None
        page = self.store.all_receipts(user_id, request.limit, start_key)
        return {
            "items": [to_api(item) for item in page.items],
            "syncTimestamp": sync_timestamp,
            "nextCursor": self._cursor(page.last_key, sync_timestamp, user_id, scope),
        }

    def _cursor(
        self, last_key: dict[str, Any] | None, sync_timestamp: str, user_id: str, scope: dict[str, Any]
    ) -> str | None:
        if not last_key:
            return None
        return self.page_tokens.encode({"lastKey": last_key, "syncTimestamp": sync_timestamp}, user_id, scope)

    # -- push ----------------------------------------------------------------------------------

    def push(self, user_id: str, request: PushRequest) -> dict[str, Any]:
        if len(request.items) > self.max_batch_size:
            raise BadRequestError(f"a push holds at most {self.max_batch_size} items")
        moment = self.clock()
        results: list[dict[str, Any] | None] = [None] * len(request.items)
        accepted: dict[int, PushItem] = {}
        seen: set[str] = set()
        for index, raw in enumerate(request.items):
            try:
                item = PushItem.model_validate(raw)
            except ValidationError as error:
                results[index] = _rejected(raw, "invalid receipt", validation_details(error))
                continue
            receipt_id = normalize_receipt_id(item.receiptId)
            if receipt_id in seen:
                results[index] = _rejected(raw, "the receipt appears twice in this push", [])
                continue
            seen.add(receipt_id)
            accepted[index] = item.model_copy(update={"receiptId": receipt_id})
        current = self.store.get_many(user_id, [item.receiptId for item in accepted.values()]) if accepted else {}
        for index, item in accepted.items():
            results[index] = self._apply(user_id, item, current.get(item.receiptId), moment)
        return {"results": results}

    def _apply(
        self, user_id: str, item: PushItem, server: dict[str, Any] | None, moment: dt.datetime
    ) -> dict[str, Any]:
        changes = item.changes()
        for _ in range(MAX_WRITE_ATTEMPTS):
            if server is None:
                if changes.get("status") == DELETED:  # made and deleted offline: nothing to keep
                    return {"receiptId": item.receiptId, "outcome": "accepted", "serverVersion": None, "item": None}
                created = new_receipt_item(user_id, item.receiptId, _as_create(item, changes), moment)
                result = self.store.create(created)
                if result.succeeded:
                    return _outcome("accepted", created)
                server = result.item  # created meanwhile by another device: merge into it
                continue
            if server["status"] == DELETED and any(
                name != "status" or value != DELETED for name, value in changes.items()
            ):  # a tombstone takes no edit: the device must restore the receipt first
                return _outcome("conflict", server, "the receipt was deleted; restore it first")
            merged = merge(server, changes, item.serverVersion)
            outcome = "accepted" if item.serverVersion == server["serverVersion"] else "merged"
            if _same_content(merged, server):
                return _outcome(outcome, server)  # nothing new: a replayed push writes nothing
            result = self.store.replace_content(user_id, server, merged, moment)
            if result.succeeded:
                return _outcome(outcome, result.item or {})
            server = result.item  # another write landed first: merge again from it
        return _outcome("conflict", server or {}, "the receipt kept changing; pull and push again")


def _as_create(item: PushItem, changes: dict[str, Any]) -> ReceiptCreate:
    content = {name: value for name, value in changes.items() if value is not None and name != "status"}
    status = item.status if item.status in ("active", "returned", "archived") else "active"
    return ReceiptCreate.model_validate({**content, "receiptId": item.receiptId, "status": status})


def _same_content(merged: dict[str, Any], server: dict[str, Any]) -> bool:
    stored = client_content(server)
    return with_derived_fields(merged) == with_derived_fields(stored)


def _outcome(outcome: str, item: dict[str, Any], message: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "receiptId": item.get("receiptId"),
        "outcome": outcome,
        "serverVersion": item.get("serverVersion"),
        "item": to_api(item) if item else None,
    }
    if message:
        result["error"] = {"error": "VERSION_CONFLICT", "message": message, "details": []}
    return result


def _rejected(raw: Any, message: str, details: list[Any]) -> dict[str, Any]:
    receipt_id = raw.get("receiptId") if isinstance(raw, dict) else None
    return {
        "receiptId": receipt_id if isinstance(receipt_id, str) else None,
        "outcome": "rejected",
        "serverVersion": None,
        "item": None,
        "error": {"error": "VALIDATION_ERROR", "message": message, "details": details},
    }


def without_nulls(response: dict[str, Any]) -> dict[str, Any]:
    """The response as the contract describes it: a field without a value (the last page's
    cursor, a rejected item's version) is left out rather than sent as null."""
    shaped = {name: value for name, value in response.items() if value is not None}
    if "results" in shaped:
        shaped["results"] = [
            {name: value for name, value in result.items() if value is not None} for result in shaped["results"]
        ]
    return shaped
