"""The sync engine: delta pull, batch push with field-level merge, full reconciliation.

Pull boundary: a write is stamped with its `updatedAt` when its function starts, but it may
become visible in the ByUpdatedAt index a little later (the writing function's run time, plus
the index's replication lag). A pull therefore hands back `syncTimestamp` = its own start minus
SYNC_SAFETY_MARGIN, and the next pull starts there. A change that landed while a pull ran is
never skipped; at worst the device sees it twice, and it applies a receipt by its version.
`lastSyncTimestamp` is parsed as an instant (any RFC 3339 precision and zone) and compared in
the stored form, never as the string the client sent.

Push: one BatchGetItem reads every pushed receipt, then each item is merged and written on its
own, conditional on the version read. The items of a push name distinct receipts, so their writes
run concurrently, at most PUSH_WRITE_PARALLELISM at a time, on the function's one (thread-safe)
client: a push of 25 waits for about four round trips rather than 25. If another write lands in
between, that item is merged again from what the failed write returned (at most
MAX_WRITE_ATTEMPTS times); it never overwrites. Each item gets its own outcome, and a bad item never fails the batch.
A push costs one BatchGetItem and one conditional write per item; duplicate detection follows
from the table's stream (duplicate-checker), off the push's path.

Exactly once: an item's `mutationId` is recorded on the receipt in the same conditional write
as its change (a push that changes nothing records it alone), so a retry, from the same device
after a lost response, is recognised from the item already read and is never applied again.

Every response stays within RESPONSE_BUDGET_BYTES, far below Lambda's 6 MB: a pull or full page
ends early, with a cursor, and push results beyond the budget leave their item out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from receipt_vault.clock import iso_timestamp, parse_instant
from receipt_vault.concurrency import map_concurrently
from receipt_vault.errors import ApiError, BadRequestError
from receipt_vault.json_codec import to_json
from receipt_vault.pagination import PageTokenCodec
from receipt_vault.receipts.content import canonical_content, stored_content
from receipt_vault.receipts.merge import merge
from receipt_vault.receipts.models import ReceiptCreate
from receipt_vault.receipts.rules import (
    applied_mutation,
    normalize_receipt_id,
    recorded_mutations,
    to_api,
    with_derived_fields,
)
from receipt_vault.receipts.status import DELETED
from receipt_vault.receipts.store import Page, ReceiptStore
from receipt_vault.shapes import DynamoItem, JsonObject, JsonValue
from receipt_vault.validation import has_lone_surrogate
from sync_handler.models import FullRequest, PullRequest, PushItem, PushRequest, validated_push_item

SYNC_SAFETY_MARGIN = dt.timedelta(seconds=60)
TOMBSTONE_WINDOW = dt.timedelta(days=30)  # soft-deleted receipts expire (TTL) after this
MAX_WRITE_ATTEMPTS = 3
# Below botocore's pool of 10 connections per client, so that no write waits for a connection.
PUSH_WRITE_PARALLELISM = 8
RESPONSE_BUDGET_BYTES = 4 * 1024 * 1024


class SyncService:
    def __init__(
        self,
        store: ReceiptStore,
        page_tokens: PageTokenCodec,
        max_batch_size: int,
        clock: Callable[[], dt.datetime],
        response_budget_bytes: int = RESPONSE_BUDGET_BYTES,
    ) -> None:
        self.store = store
        self.page_tokens = page_tokens
        self.max_batch_size = max_batch_size
        self.clock = clock
        self.response_budget_bytes = response_budget_bytes

    # -- pull ----------------------------------------------------------------------------------

    def pull(self, user_id: str, request: PullRequest) -> JsonObject:
        now = self.clock()
        since = request.lastSyncTimestamp  # already in the stored form
        scope = {"operation": "pull", "since": since}
        if request.cursor:
            position = self.page_tokens.decode(request.cursor, user_id, scope, name="cursor")
            sync_timestamp, start_key = position["syncTimestamp"], position["lastKey"]
        else:
            sync_timestamp, start_key = iso_timestamp(now - SYNC_SAFETY_MARGIN), None
        if since and parse_instant(since) < now - TOMBSTONE_WINDOW:
            # Deletions older than the tombstone window are gone: only a full sync is exact.
            return {
                "items": [],
                "deleted": [],
                "syncTimestamp": sync_timestamp,
                "nextCursor": None,
                "fullSyncRequired": True,
            }
        page = within_budget(
            self.store.changed_since(user_id, since, request.limit, start_key), self.response_budget_bytes
        )
        return {
            "items": [to_api(item) for item in page.items if item["status"] != DELETED],
            "deleted": [item["receiptId"] for item in page.items if item["status"] == DELETED],
            "syncTimestamp": sync_timestamp,
            "nextCursor": self._cursor(page.last_key, sync_timestamp, user_id, scope),
            "fullSyncRequired": False,
        }

    def full(self, user_id: str, request: FullRequest) -> JsonObject:
        scope = {"operation": "full"}
        if request.cursor:
            position = self.page_tokens.decode(request.cursor, user_id, scope, name="cursor")
            sync_timestamp, start_key = position["syncTimestamp"], position["lastKey"]
        else:
            sync_timestamp, start_key = iso_timestamp(self.clock() - SYNC_SAFETY_MARGIN), None
        page = within_budget(self.store.all_receipts(user_id, request.limit, start_key), self.response_budget_bytes)
        return {
            "items": [to_api(item) for item in page.items],
            "syncTimestamp": sync_timestamp,
            "nextCursor": self._cursor(page.last_key, sync_timestamp, user_id, scope),
        }

    def _cursor(
        self, last_key: DynamoItem | None, sync_timestamp: str, user_id: str, scope: Mapping[str, object]
    ) -> str | None:
        if not last_key:
            return None
        return self.page_tokens.encode({"lastKey": last_key, "syncTimestamp": sync_timestamp}, user_id, scope)

    # -- push ----------------------------------------------------------------------------------

    def push(self, user_id: str, request: PushRequest) -> JsonObject:
        if len(request.items) > self.max_batch_size:
            raise BadRequestError(f"a push holds at most {self.max_batch_size} items")
        moment = self.clock()
        results: list[JsonObject | None] = [None] * len(request.items)
        accepted: dict[int, PushItem] = {}
        seen: set[str] = set()
        for index, raw in enumerate(request.items):
            try:
                item = validated_push_item(raw)
            except BadRequestError as error:
                results[index] = _rejected(raw, error)
                continue
            receipt_id = normalize_receipt_id(item.receiptId)
            if receipt_id in seen:
                results[index] = _rejected(raw, BadRequestError("the receipt appears twice in this push"))
                continue
            seen.add(receipt_id)
            accepted[index] = item.model_copy(update={"receiptId": receipt_id})
        if accepted:
            current = self.store.get_many(user_id, [item.receiptId for item in accepted.values()])

            def outcome_of(item: PushItem) -> JsonObject:
                try:
                    return self._apply(user_id, item, current.get(item.receiptId), moment)
                except ApiError as error:  # too large, or throttled: this item's outcome, not the batch's;
                    return _rejected(item.model_dump(include={"receiptId"}), error)  # retried (same mutationId)

            outcomes = map_concurrently(outcome_of, accepted.values(), PUSH_WRITE_PARALLELISM)
            for index, outcome in zip(accepted, outcomes, strict=True):
                results[index] = outcome
        return {"results": results_within_budget(results, self.response_budget_bytes)}

    def _apply(
        self,
        user_id: str,
        item: PushItem,
        server: DynamoItem | None,
        moment: dt.datetime,
    ) -> JsonObject:
        changes = item.changes()
        mutation = item.mutationId
        for _ in range(MAX_WRITE_ATTEMPTS):
            if applied_mutation(server, mutation):
                return _outcome("duplicate", server or {})
            if server is None:
                if item.serverVersion is not None:  # the device had it; the server no longer does
                    return _gone(item.receiptId)
                if changes.get("status") == DELETED:  # made and deleted offline: nothing to keep
                    return {"receiptId": item.receiptId, "outcome": "accepted", "serverVersion": None, "item": None}
                result = self.store.create(user_id, item.receiptId, _as_create(item, changes), moment, mutation)
                if result.succeeded:
                    return _outcome("accepted", result.item or {})
                server = result.item  # created meanwhile (by another device, or this push's twin)
                continue
            if server["status"] == DELETED and changes.get("status") != DELETED:
                # A tombstone takes no edit: the device restores the receipt first, or drops it.
                return _outcome("conflict", server, "the receipt was deleted; restore it first")
            merged = merge(server, changes, item.serverVersion)
            outcome = "accepted" if _all_applied(changes, merged) else "merged"
            if _same_content(merged, server):  # nothing new: a replayed push writes nothing
                if not mutation:
                    return _outcome(outcome, server)
                result = self.store.record_mutation(user_id, server["receiptId"], mutation)
                if not result.succeeded and result.item and not applied_mutation(result.item, mutation):
                    # The record is full: trim it, this push's id included, as read.
                    record = recorded_mutations(server.get("mutations"), mutation)
                    result = self.store.replace_mutations(user_id, server, record)
            else:
                pushes = recorded_mutations(server.get("mutations"), mutation) if mutation else None
                result = self.store.replace_content(user_id, server, merged, moment, mutations=pushes)
            if result.succeeded:
                return _outcome(outcome, result.item or {})
            server = result.item  # another write landed first: merge again from it
        return _outcome("conflict", server or {}, "the receipt kept changing; pull and push again")


def _as_create(item: PushItem, changes: DynamoItem) -> ReceiptCreate:
    content = {name: value for name, value in changes.items() if value is not None and name != "status"}
    status = item.status if item.status in ("active", "returned", "archived") else "active"
    return ReceiptCreate.model_validate({**content, "receiptId": item.receiptId, "status": status})


def _same_content(merged: DynamoItem, server: DynamoItem) -> bool:
    after = {**with_derived_fields(merged), "status": merged.get("status")}
    return after == stored_content(server)


def _all_applied(changes: DynamoItem, merged: DynamoItem) -> bool:
    """Whether every field the device sent ended up as it sent it (derivation may override a
    `warrantyExpiryDate` it did not mark as its own)."""
    stored = {**with_derived_fields(merged), "status": merged.get("status")}
    sent = canonical_content({name: value for name, value in changes.items() if name != "userEditedFields"})
    return all(stored.get(name) == sent.get(name) for name in changes if name != "userEditedFields")


def _outcome(outcome: str, item: DynamoItem, message: str | None = None) -> JsonObject:
    result: JsonObject = {
        "receiptId": item.get("receiptId"),
        "outcome": outcome,
        "serverVersion": item.get("serverVersion"),
        "item": to_api(item) if item else None,
    }
    if message:
        result["error"] = {"error": "VERSION_CONFLICT", "message": message, "details": []}
    return result


def _gone(receipt_id: str) -> JsonObject:
    return {
        "receiptId": receipt_id,
        "outcome": "gone",
        "serverVersion": None,
        "item": None,
        "error": {
            "error": "GONE",
            "message": "the server no longer has this receipt (deleted more than 30 days ago): drop it, "
            "or push it again as a new receipt, without serverVersion",
            "details": [],
        },
    }


def _rejected(raw: JsonValue, error: ApiError) -> JsonObject:
    receipt_id = raw.get("receiptId") if isinstance(raw, dict) else None
    return {
        # The item's own id, so the device can match the answer, if an answer can hold it.
        "receiptId": receipt_id if isinstance(receipt_id, str) and not has_lone_surrogate(receipt_id) else None,
        "outcome": "rejected",
        "serverVersion": None,
        "item": None,
        "error": {"error": error.code, "message": error.message, "details": error.details},
    }


def _size(value: object) -> int:
    return len(to_json(value).encode("utf-8"))


def within_budget(page: Page, budget: int) -> Page:
    """The page cut after the last item that fits `budget` bytes (at least one item), with the
    cursor moved to that item's position."""
    used = 0
    for index, item in enumerate(page.items):
        used += _size(to_api(item))
        if used > budget and index > 0:
            return Page(page.items[:index], page.positions[index - 1], page.positions[:index])
    return page


def results_within_budget(results: list[JsonObject | None], budget: int) -> list[JsonObject | None]:
    """Push results whose items beyond `budget` bytes are left out: the device pulls them."""
    used = 0
    shaped = []
    for result in results:
        if result is not None and result.get("item") is not None:
            used += _size(result["item"])
            if used > budget:
                result = {**result, "item": None}
        shaped.append(result)
    return shaped


def without_nulls(response: JsonObject) -> JsonObject:
    """The response as the contract describes it: a field without a value (the last page's
    cursor, a rejected item's version) is left out rather than sent as null."""
    shaped = {name: value for name, value in response.items() if value is not None}
    if "results" in shaped:
        shaped["results"] = [
            {name: value for name, value in result.items() if value is not None} for result in shaped["results"]
        ]
    return shaped
