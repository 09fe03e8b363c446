"""The review of possible duplicates: the pairs to review, and the user's decision on one.

A pair is resolved in one DynamoDB transaction, conditional on the versions of both receipts
the user reviewed: either both receipts change and the pair leaves the list, or nothing does.
Each receipt then records the other as resolved (`resolvedDuplicates`), so detection never
flags the pair again, and what was decided (`duplicateResolutions`), so a retried request is
recognised and answered with the pair as it is now, without writing again.

- keep_both: the pair is dismissed for good; both receipts stay as they are.
- discard_other: the other receipt is soft-deleted, restorable for 30 days like any delete.
- merge: the kept receipt gains the other's images and every field it lacks, then the other is
  soft-deleted. The other keeps its own images and fields, so a restore gives it back whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from receipt_crud.models import DuplicatePairQuery, DuplicateResolution
from receipt_vault.duplicates.decisions import OTHER_SIDE_OF, DuplicateAction, decision_record, has_decided
from receipt_vault.duplicates.store import DuplicateStore, PairSide
from receipt_vault.errors import BadRequestError, NotFoundError, VersionConflictError
from receipt_vault.images import MAX_IMAGES_PER_RECEIPT, ImageKey
from receipt_vault.pagination import PageTokenCodec
from receipt_vault.receipts.merge import client_content
from receipt_vault.receipts.models import CLIENT_WRITABLE_FIELDS, duplicates_as_shown
from receipt_vault.receipts.rules import normalize_receipt_id, soft_delete_expiry, to_api
from receipt_vault.receipts.status import DELETED
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.shapes import DynamoItem, JsonObject

# A page token of this listing is never one of the receipts' listing, and the reverse.
PAIR_LISTING_SCOPE = {"listing": "duplicate-pairs"}
# Lists of the images, moved together by a merge (imageFingerprints: for detection, internal).
IMAGE_LISTS = ("imageKeys", "thumbnailKeys", "imageFingerprints")


@dataclass(frozen=True)
class PlannedResolution:
    kept: PairSide
    other: PairSide


class DuplicateReview:
    def __init__(
        self,
        receipts: ReceiptStore,
        duplicates: DuplicateStore,
        page_tokens: PageTokenCodec,
    ) -> None:
        self.receipts = receipts
        self.duplicates = duplicates
        self.page_tokens = page_tokens

    def list_pairs(self, user_id: str, query: DuplicatePairQuery) -> JsonObject:
        """Unresolved pairs, each with both receipts as they are now. A pair whose flag is gone
        from either receipt (an interrupted check, a receipt deleted meanwhile) is not shown, so
        a page may hold fewer than `limit` pairs; nextToken continues after it."""
        start_key = self.page_tokens.decode(query.nextToken, user_id, PAIR_LISTING_SCOPE) if query.nextToken else None
        pairs, last_key = self.duplicates.pairs_page(user_id, query.limit, start_key)
        current = self.receipts.get_many(user_id, sorted({receipt_id for pair in pairs for receipt_id in pair}))
        items = []
        for first_id, second_id in pairs:
            first, second = current.get(first_id), current.get(second_id)
            if first is not None and second is not None and _flagged_on_both(first, second):
                [flag] = [
                    shown
                    for shown in duplicates_as_shown(first["possibleDuplicates"])
                    if shown["receiptId"] == second_id
                ]
                items.append(
                    {
                        "receipt": to_api(first),
                        "other": to_api(second),
                        "reasons": flag["reasons"],
                        "score": flag["score"],
                    }
                )
        result: JsonObject = {"items": items}
        if last_key:
            result["nextToken"] = self.page_tokens.encode(last_key, user_id, PAIR_LISTING_SCOPE)
        return result

    def resolve(
        self, user_id: str, receipt_id: str, other_id: str, request: DuplicateResolution, moment: dt.datetime
    ) -> tuple[JsonObject, bool]:
        """The pair after the decision, and whether this request made it (not a retry)."""
        receipt_id, other_id = normalize_receipt_id(receipt_id), normalize_receipt_id(other_id)
        if receipt_id == other_id:
            raise BadRequestError("a receipt is not a duplicate of itself")
        for _ in range(2):  # a transaction lost to a concurrent one is planned again, once
            current = self.receipts.get_many(user_id, [receipt_id, other_id])
            kept, other = current.get(receipt_id), current.get(other_id)
            if kept is None or other is None:
                raise NotFoundError("receipt not found")
            if other_id in (kept.get("resolvedDuplicates") or ()):
                return _as_already_resolved(kept, other, request), False
            if DELETED in (kept.get("status"), other.get("status")):  # its flags went with the delete
                raise VersionConflictError(
                    "a receipt of the pair is deleted; restore it first", _pair_view(kept, other)
                )
            if other_id not in (kept.get("possibleDuplicates") or {}):
                raise NotFoundError("these receipts are not flagged as possible duplicates")
            if (kept["serverVersion"], other["serverVersion"]) != (request.serverVersion, request.otherServerVersion):
                raise VersionConflictError("a receipt changed since the review", _pair_view(kept, other))
            plan = plan_resolution(kept, other, request.action)
            result = self.duplicates.resolve_pair(user_id, plan.kept, plan.other, moment, soft_delete_expiry(moment))
            if result.succeeded:
                return self._after_resolution(user_id, receipt_id, other_id, request.action), True
        raise VersionConflictError("the receipts changed during the review", None)

    def _after_resolution(self, user_id: str, receipt_id: str, other_id: str, action: DuplicateAction) -> JsonObject:
        """The resolved pair as it is now. Through the table's stream, duplicate-checker then
        takes a receipt soft-deleted by it out of detection (and its other pairs), and checks a
        merged one again with its new images and facts."""
        current = self.receipts.get_many(user_id, [receipt_id, other_id])
        return {"action": action, **_pair_view(current[receipt_id], current[other_id])}


def plan_resolution(kept: DynamoItem, other: DynamoItem, action: DuplicateAction) -> PlannedResolution:
    """What resolving the pair writes on each receipt, as read (neither deleted)."""
    kept_id, other_id = str(kept["receiptId"]), str(other["receiptId"])
    kept_version, other_version = kept["serverVersion"], other["serverVersion"]
    kept_side = PairSide(kept, other_id, decision_record(other_id, action, kept_version, other_version))
    if action == "merge":
        kept_side = PairSide(
            kept,
            other_id,
            kept_side.resolution,
            content=merged_content(kept, other),
            appended=moved_images(kept, other),
        )
    other_record = decision_record(kept_id, OTHER_SIDE_OF[action], other_version, kept_version)
    other_side = PairSide(other, kept_id, other_record, soft_delete=action != "keep_both")
    return PlannedResolution(kept_side, other_side)


def merged_content(kept: DynamoItem, other: DynamoItem) -> DynamoItem:
    """The kept receipt's content with every field it lacks taken from the other. A derived
    warranty end is not taken (the kept receipt derives its own); one the user set is, marked
    as theirs, as is any field the user set on the other."""
    content, theirs = client_content(kept), client_content(other)
    edited_by_user = set(other.get("userEditedFields") or ())
    taken = [
        name
        for name in CLIENT_WRITABLE_FIELDS
        # Not the warranty's state: on the kept receipt, none is a value too (active).
        if name not in ("status", "userEditedFields", "warrantyStatus")
        and name not in content
        and name in theirs
        and (name != "warrantyExpiryDate" or name in edited_by_user)
    ]
    content.update({name: theirs[name] for name in taken})
    edited = sorted(set(kept.get("userEditedFields") or ()) | (edited_by_user & set(taken)))
    if edited:
        content["userEditedFields"] = edited
    content["status"] = kept["status"]
    return content


def moved_images(kept: DynamoItem, other: DynamoItem) -> dict[str, list[object]]:
    """The other's images the kept receipt does not list yet, within the per-receipt cap."""
    kept_keys = set(kept.get("imageKeys") or ())
    moved = [key for key in other.get("imageKeys") or () if key not in kept_keys]
    if len(kept_keys) + len(moved) > MAX_IMAGES_PER_RECEIPT:
        raise BadRequestError(
            f"merged, the receipt would hold more than {MAX_IMAGES_PER_RECEIPT} images: remove some, or keep both"
        )
    thumbnails = {parsed.thumbnail.key for key in moved if (parsed := ImageKey.parse(str(key))) is not None}
    kept_thumbnails = set(kept.get("thumbnailKeys") or ())
    return {
        "imageKeys": list(moved),
        "thumbnailKeys": [
            key for key in other.get("thumbnailKeys") or () if key in thumbnails and key not in kept_thumbnails
        ],
        "imageFingerprints": [
            entry
            for entry in other.get("imageFingerprints") or ()
            if isinstance(entry, dict) and entry.get("key") in moved
        ],
    }


def _as_already_resolved(kept: DynamoItem, other: DynamoItem, request: DuplicateResolution) -> JsonObject:
    """A retry of the request that resolved the pair (the same decision on the same versions) is
    answered with the pair as it is now, writing nothing; any other request is a conflict."""
    if has_decided(kept, str(other["receiptId"]), request.action, request.serverVersion, request.otherServerVersion):
        return {"action": request.action, **_pair_view(kept, other)}
    raise VersionConflictError("the pair was already resolved", _pair_view(kept, other))


def _flagged_on_both(first: DynamoItem, second: DynamoItem) -> bool:
    return (
        first.get("status") != DELETED
        and second.get("status") != DELETED
        and str(second["receiptId"]) in (first.get("possibleDuplicates") or {})
        and str(first["receiptId"]) in (second.get("possibleDuplicates") or {})
    )


def _pair_view(kept: DynamoItem, other: DynamoItem) -> JsonObject:
    return {"receipt": to_api(kept), "other": to_api(other)}
