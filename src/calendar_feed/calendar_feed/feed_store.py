"""DynamoDB access for calendar feeds: the token's item, the user's pointer to it, and the count
of unknown tokens by source.

A feed request carries only its token, so the token's item is keyed by the token's SHA-256 alone
(`CALFEED#<hash>`, outside every user's partition) and names its user. The user's partition
holds the pointer (`META#CALENDAR_FEED`) with the same hash: a feed is served only while both
agree, so a token whose pointer was rotated, revoked or erased is unknown even if its item were
left behind. Erasure deletes the token's item through the pointer (user_deletion).
"""

from __future__ import annotations

from boto3.dynamodb.conditions import Attr

from receipt_vault import keys
from receipt_vault.dynamo import (
    DynamoTable,
    Increment,
    TransactDelete,
    TransactPut,
    TransactUpdate,
    failures_as_api_errors,
)
from receipt_vault.shapes import DynamoItem


class FeedStore:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def pointer(self, user_id: str) -> DynamoItem | None:
        return self.table.get_item(keys.calendar_feed_key(user_id))

    def owner_of(self, token_hash: str) -> str | None:
        """The user a token's hash belongs to, as its item says (the pointer decides)."""
        item = self.table.get_item(keys.calendar_token_key(token_hash), consistent=False)
        return str(item["userId"]) if item else None

    def feed_state(self, user_id: str) -> tuple[DynamoItem | None, DynamoItem | None, bool]:
        """The user's feed pointer, settings, and whether the account's erasure has started, in
        one BatchGetItem."""
        wanted = {
            "pointer": keys.calendar_feed_key(user_id),
            "settings": keys.settings_key(user_id),
            "erasure": keys.erasure_key(user_id),
        }
        found = {(item["PK"], item["SK"]): item for item in self.table.batch_get(list(wanted.values()))}
        pointer, settings, erasure = (found.get((key["PK"], key["SK"])) for key in wanted.values())
        return pointer, settings, erasure is not None

    def replace(self, user_id: str, previous_hash: str | None, token_hash: str, now: str) -> bool:
        """Point the user's feed at a new token, if the pointer is still as read, in one
        transaction: the new token's item, the pointer, and the old token's item deleted."""
        pointer_unchanged = Attr("tokenHash").eq(previous_hash) if previous_hash else Attr("tokenHash").not_exists()
        operations: list[TransactPut | TransactUpdate | TransactDelete] = [
            TransactPut(
                {**keys.calendar_token_key(token_hash), "userId": user_id, "createdAt": now},
                Attr("PK").not_exists(),
            ),
            TransactUpdate(
                keys.calendar_feed_key(user_id),
                {"tokenHash": token_hash, "createdAt": now, "rotations": Increment(1)},
                [],
                pointer_unchanged,
            ),
        ]
        if previous_hash:
            operations.append(TransactDelete(keys.calendar_token_key(previous_hash)))
        with failures_as_api_errors("the calendar feed"):
            return self.table.transact_write(operations).succeeded

    def revoke(self, user_id: str, token_hash: str) -> bool:
        """Remove the pointer and the token's item, if the pointer still names this token."""
        operations: list[TransactPut | TransactUpdate | TransactDelete] = [
            TransactDelete(keys.calendar_feed_key(user_id), Attr("tokenHash").eq(token_hash)),
            TransactDelete(keys.calendar_token_key(token_hash)),
        ]
        with failures_as_api_errors("the calendar feed"):
            return self.table.transact_write(operations).succeeded

    def count_unknown_token(self, source_hash: str, window: str, expires_at: int) -> int:
        """One more unknown token from this source in this window; returns the window's count.
        DynamoDB's TTL removes the counter after the window."""
        with failures_as_api_errors("the request"):
            counter = self.table.update_item(
                keys.calendar_miss_key(source_hash, window), {"misses": Increment(1), "ttl": expires_at}, [], None
            )
        return int(counter["misses"])
