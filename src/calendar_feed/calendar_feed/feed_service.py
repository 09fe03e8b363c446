"""Calendar feeds: a secret URL per user, and the feed it serves.

The token in the URL is the credential (a calendar app sends nothing else), so it has 256 random
bits, only its SHA-256 is stored, and a wrong one looks like any other unknown token: a 404. A
source sending more than UNKNOWN_TOKENS_PER_HOUR of them gets a 429 until the hour ends.

A feed request reads a bounded, small set: the token's item, one BatchGetItem of the pointer, the
settings and the account's erasure job (an account being erased has no feed), and the user's
live warranties from ByWarrantyExpiry (only active receipts with a live warranty are in it,
never the whole account). Its ETag is the body's hash, so a calendar app polling an unchanged
feed gets a 304.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from calendar_feed.feed_store import FeedStore
from calendar_feed.ics import FeedWarranty, calendar
from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.errors import NotFoundError, RateLimitedError
from receipt_vault.receipts.rules import effective_warranty
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.secret_links import SecretLinks, secret_hash
from receipt_vault.shapes import DynamoItem
from receipt_vault.user_settings import UserSettings, local_date

TOKEN_BYTES = 32
FEED_SUFFIX = ".ics"
_FEED_FILE = re.compile(r"^[A-Za-z0-9_-]{43}\.ics$")  # token_urlsafe(32), then the suffix
UNKNOWN_TOKENS_PER_HOUR = 30


@dataclass(frozen=True)
class Feed:
    body: bytes
    etag: str


class CalendarFeedService:
    def __init__(self, store: FeedStore, receipts: ReceiptStore) -> None:
        self.store = store
        self.receipts = receipts
        self.links = SecretLinks(store.links, lambda: secrets.token_urlsafe(TOKEN_BYTES))

    def enable(self, user_id: str, moment: dt.datetime) -> tuple[str, str]:
        """A new secret token for the user's feed, replacing (revoking) any earlier one; returns
        the token, shown this once, and when it was made."""
        now = iso_timestamp(moment)
        return self.links.rotate(user_id, now), now

    def revoke(self, user_id: str) -> None:
        """No feed any more; revoking none is no error."""
        self.links.revoke(user_id)

    def feed(self, feed_file: str, source: str, moment: dt.datetime) -> Feed:
        user_id = self._owner(feed_file)
        if user_id is None:
            raise self._unknown(source, moment)
        pointer, settings_item, erasing = self.store.feed_state(user_id)
        if erasing or pointer is None or pointer.get("tokenHash") != secret_hash(feed_file.removesuffix(FEED_SUFFIX)):
            raise self._unknown(source, moment)  # rotated, revoked, or the account is being erased
        settings = UserSettings.from_item(settings_item)
        today = local_date(moment, settings.timezone)
        warranties = self.receipts.live_warranties(user_id, today.isoformat())
        owner = keys.user_digest(user_id)[:16]
        body = calendar(feed_warranties(warranties), settings.reminder_offsets, settings.timezone, owner, today)
        return Feed(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')

    def _owner(self, feed_file: str) -> str | None:
        if not _FEED_FILE.fullmatch(feed_file):
            return None
        return self.store.links.owner_of(secret_hash(feed_file.removesuffix(FEED_SUFFIX)))

    def _unknown(self, source: str, moment: dt.datetime) -> Exception:
        hour = moment.replace(minute=0, second=0, microsecond=0)
        window_end = hour + dt.timedelta(hours=1)
        source_hash = hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]
        misses = self.store.count_unknown_token(source_hash, hour.strftime("%Y-%m-%dT%H"), int(window_end.timestamp()))
        if misses > UNKNOWN_TOKENS_PER_HOUR:
            seconds = max(1, int((window_end - moment).total_seconds()))
            return RateLimitedError("too many unknown calendar feeds from this address", retry_after=seconds)
        return NotFoundError("calendar feed not found")


def feed_warranties(items: Iterable[DynamoItem]) -> list[FeedWarranty]:
    """The index's receipts as the feed shows them: the cover in force, and which one it is."""
    warranties = []
    for item in items:
        ends, cover = effective_warranty(item)
        if ends is None:
            continue  # voided or ended by the user, not yet swept out of the index
        warranties.append(
            FeedWarranty(
                receipt_id=str(item["receiptId"]),
                expiry=dt.date.fromisoformat(ends),
                store_name=item.get("storeName"),
                version=int(item["serverVersion"]),
                changed_at=dt.datetime.fromisoformat(str(item["updatedAt"]).replace("Z", "+00:00")),
                extended=cover != "manufacturer",  # an extended cover, or a repair's extension
            )
        )
    return warranties
