"""DynamoDB access for duplicate detection: the fingerprint items and the flags on receipts.

A receipt's fingerprints are items `DUP#<lookup key>#<receiptId>` in its owner's partition,
each holding a copy of the receipt's fingerprints, so candidates are found and judged with one
Query per lookup key and no read of the candidates themselves. A Query reads at most
CANDIDATES_PER_KEY items, so finding candidates costs the same in an account of ten receipts
and in one of five thousand. Erasure and export see these items as they see the user's others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.duplicates.fingerprints import Fingerprints, Verdict
from receipt_vault.dynamo import (
    AddToSet,
    DynamoTable,
    Increment,
    ListAppend,
    TransactDelete,
    TransactionResult,
    TransactUpdate,
    WriteResult,
    conditional_update,
    failures_as_api_errors,
)
from receipt_vault.receipts.layout import replacement_changes, soft_delete_changes, version_fields
from receipt_vault.receipts.status import DELETED
from receipt_vault.shapes import DynamoItem

# More receipts sharing one key than this are not duplicates of one another but a pattern (a
# daily coffee of the same price): the first few suffice, and the read stays bounded.
CANDIDATES_PER_KEY = 10
# A receipt never carries more flags than this (the contract's maxItems): beyond it, they are
# noise, not a review.
MAX_FLAGS_PER_RECEIPT = 20


@dataclass(frozen=True)
class PairSide:
    """One receipt's part in resolving a pair, planned from the receipt as read: the write is
    conditional on the version read, so a change since makes the whole resolution fail."""

    receipt: DynamoItem
    peer_id: str
    resolution: str  # what a retry is recognised by: "<peerId> <action>"
    content: DynamoItem | None = None  # merge: the client-writable content after it
    appended: dict[str, list[object]] = field(default_factory=dict)  # merge: image lists to extend
    soft_delete: bool = False  # discarded, or merged into the other


class DuplicateStore:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def candidates(self, user_id: str, lookup_keys: Iterable[str], receipt_id: str) -> dict[str, Fingerprints]:
        """Other receipts sharing a lookup key, with their fingerprints: one Query per key."""
        found: dict[str, Fingerprints] = {}
        for lookup in lookup_keys:
            condition = Key("PK").eq(keys.user_pk(user_id)) & Key("SK").begins_with(keys.duplicate_prefix(lookup))
            items, _ = self.table.query(None, condition, limit=CANDIDATES_PER_KEY + 1)
            for item in items:
                if item["receiptId"] != receipt_id:
                    found.setdefault(str(item["receiptId"]), Fingerprints.from_item(item["fingerprints"]))
        return found

    def current_fingerprints(self, user_id: str, receipt_id: str) -> Fingerprints | None:
        """What a receipt records now; None when it is gone, deleted or never examined."""
        item = self.table.get_item(keys.receipt_key(user_id, receipt_id), consistent=False)
        if item is None or item.get("status") == DELETED or not item.get("duplicateFingerprints"):
            return None
        return Fingerprints.from_item(item["duplicateFingerprints"])

    def replace_fingerprints(
        self, user_id: str, receipt_id: str, previous_keys: Iterable[str], fingerprints: Fingerprints
    ) -> None:
        """The receipt's fingerprint items, as they are now: keys it no longer has are deleted,
        and the others (re)written with its current fingerprints."""
        current = fingerprints.lookup_keys()
        stored = fingerprints.as_item()
        puts = [
            {**keys.duplicate_key(user_id, lookup, receipt_id), "receiptId": receipt_id, "fingerprints": stored}
            for lookup in current
        ]
        removed = [keys.duplicate_key(user_id, lookup, receipt_id) for lookup in previous_keys if lookup not in current]
        self.table.batch_write(puts, removed)

    def remember_fingerprints(self, user_id: str, receipt_id: str, fingerprints: Fingerprints) -> None:
        """The receipt remembers its fingerprints: the next examination knows which items to
        remove and whether anything changed, and a flag checks against them that a candidate's
        lookup item is not stale. Not content: the version stays."""
        conditional_update(
            self.table,
            keys.receipt_key(user_id, receipt_id),
            {"duplicateKeys": fingerprints.lookup_keys(), "duplicateFingerprints": fingerprints.as_item()},
            [],
            Attr("PK").exists(),
        )

    def forget_fingerprints(self, user_id: str, receipt_id: str, lookup_keys: Iterable[str]) -> None:
        """A deleted receipt is nobody's candidate; restored, it is examined afresh."""
        self.table.batch_write([], [keys.duplicate_key(user_id, lookup, receipt_id) for lookup in lookup_keys])
        conditional_update(
            self.table,
            keys.receipt_key(user_id, receipt_id),
            {},
            ["duplicateKeys", "duplicateFingerprints"],
            Attr("PK").exists(),
        )

    def flag(
        self,
        user_id: str,
        receipt_id: str,
        other_id: str,
        verdict: Verdict,
        now: str,
        fingerprints: Fingerprints | None = None,
    ) -> WriteResult:
        """Record on a receipt that another may be the same one, unless it is deleted, already
        knows, was reviewed with it (resolvedDuplicates), holds MAX_FLAGS_PER_RECEIPT flags, or
        (given its `fingerprints`, as a lookup item showed them) has other fingerprints now. A
        server-side change of a public field: the version moves, and sync carries it."""
        entry = {"reasons": list(verdict.reasons), "score": Decimal(str(verdict.score))}
        live = Attr("PK").exists() & Attr("status").ne(DELETED) & ~Attr("resolvedDuplicates").contains(other_id)
        if fingerprints is not None:
            live &= Attr("duplicateFingerprints").eq(fingerprints.as_item())
        key = keys.receipt_key(user_id, receipt_id)
        result = conditional_update(
            self.table,
            key,
            {"possibleDuplicates": {other_id: entry}, **_changed(receipt_id, now)},
            [],
            live & Attr("possibleDuplicates").not_exists(),
        )
        if result.succeeded or result.item is None or "possibleDuplicates" not in result.item:
            return result
        # The map exists: add this pair to it, once, within the cap.
        return conditional_update(
            self.table,
            key,
            {f"possibleDuplicates.{other_id}": entry, **_changed(receipt_id, now)},
            [],
            live
            & Attr(f"possibleDuplicates.{other_id}").not_exists()
            & Attr("possibleDuplicates").size().lt(MAX_FLAGS_PER_RECEIPT),
        )

    def unflag(self, user_id: str, receipt_id: str, other_id: str, now: str) -> WriteResult:
        """Take a pair off a receipt that lists it (the facts changed, or one was deleted)."""
        return conditional_update(
            self.table,
            keys.receipt_key(user_id, receipt_id),
            _changed(receipt_id, now),
            [f"possibleDuplicates.{other_id}"],
            Attr(f"possibleDuplicates.{other_id}").exists(),
        )

    def forget_everything(self, user_id: str) -> int:
        """Every fingerprint and pair item of the user, deleted (an erasure began during a check,
        which may have written some after the erasure's own sweep); how many there were."""
        prefix = keys.DUPLICATE_PREFIX.rstrip("#")  # DUP#... and DUPPAIR#...
        condition = Key("PK").eq(keys.user_pk(user_id)) & Key("SK").begins_with(prefix)
        found = [{"PK": item["PK"], "SK": item["SK"]} for item in self.table.query_all(None, condition)]
        if found:
            self.table.batch_write([], found)
        return len(found)

    def replace_pairs(self, user_id: str, receipt_id: str, flagged: Iterable[str], unflagged: Iterable[str]) -> None:
        """The review list's items of a receipt's pairs: added for the pairs just flagged on both
        sides, removed for those just taken off. One batch; none when nothing changed."""
        puts = [
            {**keys.duplicate_pair_key(user_id, receipt_id, other_id), "receiptIds": sorted((receipt_id, other_id))}
            for other_id in flagged
        ]
        deletes = [keys.duplicate_pair_key(user_id, receipt_id, other_id) for other_id in unflagged]
        if puts or deletes:
            self.table.batch_write(puts, deletes)

    def pairs_page(
        self, user_id: str, limit: int, start_key: DynamoItem | None
    ) -> tuple[list[tuple[str, str]], DynamoItem | None]:
        """A page of the pairs listed for review, by their ids (lower first), in id order."""
        condition = Key("PK").eq(keys.user_pk(user_id)) & Key("SK").begins_with(keys.DUPLICATE_PAIR_PREFIX)
        items, last_key = self.table.query(None, condition, limit=limit, start_key=start_key)
        return [(str(item["receiptIds"][0]), str(item["receiptIds"][1])) for item in items], last_key

    def resolve_pair(
        self, user_id: str, kept: PairSide, other: PairSide, moment: dt.datetime, expires_at: int
    ) -> TransactionResult:
        """Resolve a reviewed pair in one transaction: both receipts change, each only if still at
        the version read and not deleted, and the pair leaves the review list; or nothing does.
        Each receipt records the other as resolved, so it is never flagged with it again."""
        operations: list[TransactUpdate | TransactDelete] = [
            _resolution(user_id, side, moment, expires_at) for side in (kept, other)
        ]
        operations.append(TransactDelete(keys.duplicate_pair_key(user_id, kept.peer_id, other.peer_id)))
        with failures_as_api_errors("the receipts"):
            try:
                return self.table.transact_write(operations)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                return TransactionResult(False, {})  # lost to a concurrent transaction: read again


def _resolution(user_id: str, side: PairSide, moment: dt.datetime, expires_at: int) -> TransactUpdate:
    receipt_id, version = str(side.receipt["receiptId"]), side.receipt["serverVersion"]
    set_values: DynamoItem = {
        "resolvedDuplicates": AddToSet(frozenset({side.peer_id})),
        "duplicateResolutions": AddToSet(frozenset({side.resolution})),
    }
    remove: list[str] = []
    if side.peer_id in (side.receipt.get("possibleDuplicates") or {}):
        remove.append(f"possibleDuplicates.{side.peer_id}")
    if side.content is not None:
        changes = replacement_changes(user_id, side.receipt, side.content, moment)
        set_values.update(changes.set)
        remove += changes.remove
    for name, values in side.appended.items():
        if values:
            set_values[name] = ListAppend(tuple(values))
    if side.soft_delete:
        deletion = soft_delete_changes(user_id, moment, expires_at)
        set_values.update(deletion.set)
        remove += deletion.remove
    set_values.update(version_fields(receipt_id, version + 1, iso_timestamp(moment)))
    condition = Attr("PK").exists() & Attr("serverVersion").eq(version) & Attr("status").ne(DELETED)
    return TransactUpdate(keys.receipt_key(user_id, receipt_id), set_values, remove, condition)


def _changed(receipt_id: str, now: str) -> DynamoItem:
    return {"serverVersion": Increment(1), "updatedAt": now, "byUpdatedSK": keys.by_updated_sk(now, receipt_id)}


def stored_fingerprints(receipt: DynamoItem) -> tuple[list[str], DynamoItem | None]:
    """What the last examination recorded on a receipt: its lookup keys and fingerprints."""
    previous = receipt.get("duplicateFingerprints")
    return [str(key) for key in receipt.get("duplicateKeys") or []], previous if isinstance(previous, dict) else None
