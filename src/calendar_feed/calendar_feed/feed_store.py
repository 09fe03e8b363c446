"""DynamoDB access for calendar feeds: the token's item, the user's pointer to it, and the count
of unknown tokens by source.

A feed request carries only its token, so the token's item is keyed by the token's SHA-256 alone
(`CALFEED#<hash>`, outside every user's partition) and names its user. The user's partition
holds the pointer (`META#CALENDAR_FEED`) with the same hash: a feed is served only while both
agree, so a token whose pointer was rotated, revoked or erased is unknown even if its item were
left behind (receipt_vault/secret_links.py, shared with inbound e-mail addresses).
"""

from __future__ import annotations

from receipt_vault import keys
from receipt_vault.dynamo import DynamoTable, Increment, failures_as_api_errors
from receipt_vault.secret_links import CALENDAR_FEED, SecretLinkStore
from receipt_vault.shapes import DynamoItem


class FeedStore:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table
        self.links = SecretLinkStore(table, CALENDAR_FEED)  # the token's item and the user's pointer

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

    def count_unknown_token(self, source_hash: str, window: str, expires_at: int) -> int:
        """One more unknown token from this source in this window; returns the window's count.
        DynamoDB's TTL removes the counter after the window."""
        with failures_as_api_errors("the request"):
            counter = self.table.update_item(
                keys.calendar_miss_key(source_hash, window), {"misses": Increment(1), "ttl": expires_at}, [], None
            )
        return int(counter["misses"])
