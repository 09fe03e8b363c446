"""DynamoDB access for receipts: one call per operation, every filter served by an index.

Each write is one conditional call named for its intention ("update the content if the
receipt is still at version N"); the conditions, the update expressions and the index keys
(layout.py) stay here. A write that loses its condition returns the current item, and the
caller (service.py, the sync engine) decides what that means.

List queries pick the index that serves the most selective filter and apply any remaining
filter to that one query. They never scan. Deleted receipts are listed only when asked for
by status; otherwise they are filtered out of the query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import (
    CopyOf,
    DynamoTable,
    Increment,
    ListAppend,
    WriteResult,
    conditional_put,
    conditional_update,
    failures_as_api_errors,
)
from receipt_vault.images import MAX_IMAGES_PER_RECEIPT
from receipt_vault.receipts.layout import (
    WARRANTY_INDEX_ATTRIBUTES,
    WARRANTY_SHADOW_ATTRIBUTES,
    content_changes,
    new_receipt_item,
    replacement_changes,
    soft_delete_changes,
    version_fields,
    warranty_rejoin,
)
from receipt_vault.receipts.models import ReceiptCreate
from receipt_vault.receipts.rules import MAX_PENDING_MUTATIONS
from receipt_vault.receipts.status import ACTIVE, DELETED
from receipt_vault.shapes import DynamoItem


@dataclass(frozen=True)
class ListFilters:
    from_date: str | None = None
    to_date: str | None = None
    category: str | None = None
    store: str | None = None
    status: str | None = None


@dataclass
class Page:
    items: list[DynamoItem]
    last_key: DynamoItem | None = None
    # The key each item had where the page was read (for an index, its index key then), so a
    # page cut short can continue right after any of its items.
    positions: list[DynamoItem] = field(default_factory=list)


@dataclass
class QueryPlan:
    index_name: str
    key_condition: ConditionBase
    filters: list[ConditionBase] = field(default_factory=list)


def _sort_key_condition(attribute: str, prefix: str, filters: ListFilters) -> ConditionBase | None:
    """The range of `{prefix}{date}#{receiptId}` keys the date filters allow.

    Validation keeps dates before 2200, so any date filter also excludes undated receipts,
    which sort as UNDATED_SORT_DATE.
    """
    if filters.from_date is None and filters.to_date is None:
        return Key(attribute).begins_with(prefix) if prefix else None
    lower = prefix + (filters.from_date or "0000-01-01")
    upper = prefix + (filters.to_date or "2199-12-31") + "#" + keys.RANGE_END
    return Key(attribute).between(lower, upper)


def plan_list_query(user_id: str, filters: ListFilters) -> QueryPlan:
    partition = keys.user_pk(user_id)
    if filters.status:
        index, key = "ByUserStatus", Key("statusPK").eq(keys.status_pk(user_id, filters.status))
        sort = _sort_key_condition("byDateSK", "", filters)
    elif filters.category:
        index, key = "ByUserCategory", Key("PK").eq(partition)
        sort = _sort_key_condition("byCategorySK", keys.category_prefix(filters.category), filters)
    elif filters.store:
        index, key = "ByUserStore", Key("PK").eq(partition)
        sort = _sort_key_condition("byStoreSK", keys.store_prefix(filters.store), filters)
    else:
        index, key = "ByUserDate", Key("PK").eq(partition)
        sort = _sort_key_condition("byDateSK", "", filters)
    plan = QueryPlan(index, key & sort if sort is not None else key)
    if not filters.status:
        plan.filters.append(Attr("status").ne(DELETED))
    if filters.category and plan.index_name != "ByUserCategory":
        plan.filters.append(Attr("byCategorySK").begins_with(keys.category_prefix(filters.category)))
    if filters.store and plan.index_name != "ByUserStore":
        plan.filters.append(Attr("byStoreSK").begins_with(keys.store_prefix(filters.store)))
    return plan


def _mutations_as_read(server: DynamoItem) -> ConditionBase:
    """The record of applied pushes is unchanged since `server` was read. Recording a push that
    changed nothing leaves the version alone, so the version alone cannot guard the record."""
    if "mutations" in server:
        return Attr("mutations").eq(server["mutations"])
    return Attr("mutations").not_exists()


class ReceiptStore:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def get(self, user_id: str, receipt_id: str) -> DynamoItem | None:
        return self.table.get_item(keys.receipt_key(user_id, receipt_id))

    # -- writes of the receipts API: each conditional on the version the client based it on ------

    def create(
        self,
        user_id: str,
        receipt_id: str,
        request: ReceiptCreate,
        moment: dt.datetime,
        mutation_id: str | None = None,
        server_owned: DynamoItem | None = None,
    ) -> WriteResult:
        """Put a new receipt unless one has this id; the result holds the new item, or the
        existing one."""
        item = new_receipt_item(user_id, receipt_id, request, moment, mutation_id, server_owned)
        with failures_as_api_errors("the receipt"):
            return conditional_put(self.table, item, Attr("PK").not_exists())

    def update_content(
        self,
        user_id: str,
        receipt_id: str,
        content: DynamoItem,
        status: str,
        moment: dt.datetime,
        *,
        version: int,
        echoed: DynamoItem,
        assumed_status: bool,
    ) -> WriteResult:
        """Replace the client-writable content, leaving the receipt in `status`, if it is at
        `version`, not deleted, its server-owned fields equal `echoed`, and the write changes
        something. With `assumed_status`, the stored status must already be `status`."""
        changes = content_changes(user_id, receipt_id, content, status, moment)
        condition = _at_version(version) & _equal_to(echoed) & _changes_something(changes.set)
        if assumed_status:
            condition &= Attr("status").eq(status)
        return self._update(
            user_id,
            receipt_id,
            {**changes.set, **version_fields(receipt_id, version + 1, iso_timestamp(moment))},
            changes.remove,
            condition,
        )

    def change_status(
        self, user_id: str, receipt_id: str, status: str, moment: dt.datetime, *, version: int, live_warranty: bool
    ) -> WriteResult:
        """Move the receipt at `version` to another `status`. Only an active receipt with a live
        warranty is in the warranty indexes: becoming active, `live_warranty` is the assumption
        the write makes about the stored warranty, and its condition checks it."""
        set_values = {
            "status": status,
            "statusPK": keys.status_pk(user_id, status),
            **version_fields(receipt_id, version + 1, iso_timestamp(moment)),
        }
        condition = _at_version(version) & Attr("status").ne(status)
        if status != ACTIVE:
            return self._update(user_id, receipt_id, set_values, list(WARRANTY_INDEX_ATTRIBUTES), condition)
        if live_warranty:
            rejoined = {**set_values, **warranty_rejoin(user_id, receipt_id)}
            return self._update(user_id, receipt_id, rejoined, [], condition & _live_warranty(moment.date()))
        return self._update(
            user_id,
            receipt_id,
            set_values,
            list(WARRANTY_INDEX_ATTRIBUTES),
            condition & _no_live_warranty(moment.date()),
        )

    def soft_delete(self, user_id: str, receipt_id: str, moment: dt.datetime, expires_at: int) -> WriteResult:
        """Mark the receipt deleted unless it is, remembering its status for a restore; DynamoDB's
        TTL removes it at `expires_at` (epoch seconds)."""
        deletion = soft_delete_changes(user_id, moment, expires_at)
        return self._update(
            user_id,
            receipt_id,
            {**deletion.set, **version_fields(receipt_id, Increment(1), iso_timestamp(moment))},
            deletion.remove,
            Attr("status").ne(DELETED),
        )

    def restore(
        self, user_id: str, receipt_id: str, moment: dt.datetime, *, deleted_after: str, live_warranty: bool
    ) -> WriteResult:
        """Give a receipt deleted after `deleted_after` its previous status back. Only a return
        to active with a live warranty rejoins the warranty indexes: `live_warranty` is the
        assumption the write makes, and its condition checks it."""
        now = iso_timestamp(moment)
        restored = {
            "status": CopyOf("previousStatus"),
            "statusPK": CopyOf("previousStatusPK"),
            **version_fields(receipt_id, Increment(1), now),
        }
        removed = ["previousStatus", "previousStatusPK", "deletedAt", "ttl"]
        within_window = (
            Attr("status").eq(DELETED) & Attr("deletedAt").gt(deleted_after) & Attr("previousStatus").exists()
        )
        today = moment.date()
        if live_warranty:
            condition = within_window & Attr("previousStatus").eq(ACTIVE) & _live_warranty(today)
            return self._update(
                user_id, receipt_id, {**restored, **warranty_rejoin(user_id, receipt_id)}, removed, condition
            )
        condition = within_window & (Attr("previousStatus").ne(ACTIVE) | _no_live_warranty(today))
        return self._update(user_id, receipt_id, restored, removed + list(WARRANTY_INDEX_ATTRIBUTES), condition)

    def _update(
        self,
        user_id: str,
        receipt_id: str,
        set_values: DynamoItem,
        remove: list[str],
        condition: ConditionBase,
    ) -> WriteResult:
        """A conditional update of an existing receipt; a missing one never gets created."""
        with failures_as_api_errors("the receipt"):
            return conditional_update(
                self.table, keys.receipt_key(user_id, receipt_id), set_values, remove, Attr("PK").exists() & condition
            )

    # -- writes of sync, refinement, uploads and the scheduled jobs -----------------------------

    def replace_content(
        self,
        user_id: str,
        server: DynamoItem,
        content: DynamoItem,
        moment: dt.datetime,
        server_owned: DynamoItem | None = None,
        mutations: list[str] | None = None,
    ) -> WriteResult:
        """Write `content` (and any server-owned fields, such as `refinement`) over the stored
        receipt `server`, if it is still at the version read. With `mutations`, the record of
        applied pushes is replaced in the same write, if it too is still as read."""
        changes = replacement_changes(user_id, server, content, moment)
        now = iso_timestamp(moment)
        condition: ConditionBase = Attr("serverVersion").eq(server["serverVersion"])
        recorded = {}
        if mutations is not None:
            condition &= _mutations_as_read(server)
            recorded = {"mutations": mutations}
        return self._update(
            user_id,
            server["receiptId"],
            {
                **changes.set,
                **(server_owned or {}),
                **recorded,
                **version_fields(server["receiptId"], server["serverVersion"] + 1, now),
            },
            changes.remove,
            condition,
        )

    def record_mutation(self, user_id: str, receipt_id: str, mutation_id: str) -> WriteResult:
        """Append `mutation_id` to the receipt's record of applied pushes, atomically, unless it is
        there: for a push that changed nothing, so that its retry is known as one. Not a change
        of the receipt: the version and the sync position stay. Fails once the record holds
        MAX_PENDING_MUTATIONS ids (the next change trims it)."""
        room = Attr("mutations").not_exists() | Attr("mutations").size().lt(MAX_PENDING_MUTATIONS)
        return self._update(
            user_id,
            receipt_id,
            {"mutations": ListAppend((mutation_id,))},
            [],
            ~Attr("mutations").contains(mutation_id) & room,
        )

    def replace_mutations(self, user_id: str, server: DynamoItem, mutations: list[str]) -> WriteResult:
        """Replace the record of applied pushes, and nothing else, if it is still as read: to
        trim a full record while recording a push that changed nothing."""
        return self._update(user_id, server["receiptId"], {"mutations": mutations}, [], _mutations_as_read(server))

    def set_server_owned(self, user_id: str, receipt_id: str, values: DynamoItem, now: str) -> WriteResult:
        """Set server-owned fields (such as a failed `refinement`) on an existing receipt."""
        return self._update(
            user_id,
            receipt_id,
            {
                **values,
                "serverVersion": Increment(1),
                "updatedAt": now,
                "byUpdatedSK": keys.by_updated_sk(now, receipt_id),
            },
            [],
            Attr("PK").exists(),
        )

    def attach_image(
        self,
        user_id: str,
        receipt_id: str,
        original_key: str,
        thumbnail_key: str,
        now: str,
        fingerprint: DynamoItem | None = None,
    ) -> WriteResult:
        """Record an uploaded image and its thumbnail in one conditional update.

        The appends are atomic, so concurrent uploads lose nothing. The condition refuses an
        original the receipt already lists, so a redelivered event adds nothing twice, and one
        more than MAX_IMAGES_PER_RECEIPT. It is a server-side change, so the version moves and
        delta sync picks it up.
        """
        return self._update(
            user_id,
            receipt_id,
            {
                "imageKeys": ListAppend((original_key,)),
                "thumbnailKeys": ListAppend((thumbnail_key,)),
                # The image's digests, for duplicate detection (receipt_vault/duplicates): internal.
                **({"imageFingerprints": ListAppend(({"key": original_key, **fingerprint},))} if fingerprint else {}),
                "serverVersion": Increment(1),
                "updatedAt": now,
                "byUpdatedSK": keys.by_updated_sk(now, receipt_id),
            },
            [],
            ~Attr("imageKeys").contains(original_key) & Attr("imageKeys").size().lt(MAX_IMAGES_PER_RECEIPT),
        )

    def get_many(self, user_id: str, receipt_ids: list[str]) -> dict[str, DynamoItem]:
        """Current receipts by id (one BatchGetItem per 100); missing ones are absent."""
        items = self.table.batch_get([keys.receipt_key(user_id, receipt_id) for receipt_id in receipt_ids])
        return {item["receiptId"]: item for item in items}

    def changed_since(self, user_id: str, since: str | None, limit: int, start_key: DynamoItem | None) -> Page:
        """Receipts changed after `since`, oldest change first: keys from ByUpdatedAt (KEYS_ONLY),
        then the items themselves in BatchGetItem calls of 100, in the order of the changes."""
        condition: ConditionBase = Key("PK").eq(keys.user_pk(user_id))
        if since:
            condition &= Key("byUpdatedSK").gt(since)
        changed, last_key = self.table.query("ByUpdatedAt", condition, limit=limit, start_key=start_key)
        ids = [item["SK"].removeprefix(keys.RECEIPT_PREFIX) for item in changed]
        current = self.get_many(user_id, ids) if ids else {}
        found = [
            (current[receipt_id], position)
            for receipt_id, position in zip(ids, changed, strict=True)
            if receipt_id in current
        ]
        return Page([item for item, _ in found], last_key, [position for _, position in found])

    # -- warranties, for the scheduled jobs ----------------------------------------------------

    def warranties_expiring_on(self, expiry_date: str) -> Iterator[DynamoItem]:
        """Every user's live warranties of active receipts ending on that day (the ByScheduledJob
        projection: keys, receiptId, storeName, warrantyExpiryDate)."""
        return self.table.query_all("ByScheduledJob", Key("jobPK").eq(keys.expiry_job_pk(expiry_date)))

    def live_warranties(self, user_id: str, from_date: str) -> Iterator[DynamoItem]:
        """The user's active receipts whose warranty ends on `from_date` or later, soonest first."""
        condition = Key("warrantyPK").eq(keys.warranty_pk(user_id)) & Key("warrantySK").gte(from_date)
        return self.table.query_all("ByWarrantyExpiry", condition)

    def end_warranty(self, user_id: str, receipt_id: str, expiry_date: str) -> WriteResult:
        """Take a receipt whose warranty has ended out of the warranty indexes, unless its expiry
        changed meanwhile. Index keys are not content: the version stays."""
        return self._update(
            user_id,
            receipt_id,
            {},
            [*WARRANTY_INDEX_ATTRIBUTES, *WARRANTY_SHADOW_ATTRIBUTES],
            Attr("warrantyJobKey").eq(keys.expiry_job_pk(expiry_date)),
        )

    def every_receipt(self, user_id: str) -> Iterator[DynamoItem]:
        """Every receipt of the user, tombstones included, in key order, page after page."""
        condition = Key("PK").eq(keys.user_pk(user_id)) & Key("SK").begins_with(keys.RECEIPT_PREFIX)
        return self.table.query_all(None, condition)

    def all_receipts(self, user_id: str, limit: int, start_key: DynamoItem | None) -> Page:
        """Every receipt of the user, tombstones included, in key order."""
        condition = Key("PK").eq(keys.user_pk(user_id)) & Key("SK").begins_with(keys.RECEIPT_PREFIX)
        items, last_key = self.table.query(None, condition, limit=limit, start_key=start_key)
        return Page(items, last_key, [{"PK": item["PK"], "SK": item["SK"]} for item in items])

    def list_page(self, user_id: str, filters: ListFilters, limit: int, start_key: DynamoItem | None) -> Page:
        """One Query, newest purchase first. Filtered pages may hold fewer than `limit` items."""
        plan = plan_list_query(user_id, filters)
        combined = None
        for condition in plan.filters:
            combined = condition if combined is None else combined & condition
        items, last_key = self.table.query(
            plan.index_name, plan.key_condition, combined, limit, start_key, newest_first=True
        )
        return Page(items, last_key)


def _at_version(version: int) -> ConditionBase:
    return Attr("serverVersion").eq(version) & Attr("status").ne(DELETED)


def _equal_to(echoed: DynamoItem) -> ConditionBase:
    """Each echoed server-owned field equals the stored one. An absent attribute equals only an
    empty echo (`possibleDuplicates: []` of a receipt never flagged), and nothing else."""
    condition: ConditionBase = Attr("PK").exists()
    for name, value in echoed.items():
        if value == {} or value == []:
            condition &= Attr(name).not_exists() | Attr(name).eq(value)
        else:
            condition &= Attr(name).eq(value)
    return condition


def _changes_something(new_values: DynamoItem) -> ConditionBase:
    """The content or the status would change (status is checked with the write's own status
    condition when the request keeps it)."""
    return (
        Attr("contentHash").not_exists()
        | Attr("contentHash").ne(new_values["contentHash"])
        | Attr("status").ne(new_values["status"])
    )


def _live_warranty(today: dt.date) -> ConditionBase:
    return Attr("warrantyExpiryKey").gte(today.isoformat())


def _no_live_warranty(today: dt.date) -> ConditionBase:
    return Attr("warrantyExpiryKey").not_exists() | Attr("warrantyExpiryKey").lt(today.isoformat())
