"""Key builders for the single table: every PK, SK and index key is spelled here, once.

Index attributes (see template.yaml, ReceiptVaultTable):
  ByUserDate        PK           / byDateSK      `{purchaseDate}#{receiptId}`
  ByUserCategory    PK           / byCategorySK  `CAT#{category}#{sortDate}#{receiptId}`
  ByUserStore       PK           / byStoreSK     `STORE#{store}#{sortDate}#{receiptId}`
  ByWarrantyExpiry  warrantyPK   / warrantySK    `USER#{sub}#ACTIVE` / `{expiry}#{receiptId}`
  ByUserStatus      statusPK     / byDateSK      `USER#{sub}#STATUS#{status}`
  ByUpdatedAt       PK           / byUpdatedSK   `{updatedAt}#{receiptId}` (KEYS_ONLY)
  ByScheduledJob    jobPK        / jobSK         sparse and overloaded, read by the scheduled jobs:
                    `EXPIRY#{expiry}` / `USER#{sub}#RECEIPT#{receiptId}`  live warranties, by day
                    `DIGEST#WEEKLY`   / `USER#{sub}`                      weekly digest opt-ins
Other items under a user: the settings (`META#SETTINGS`) and the notification ledger
(`NOTIF#{receiptId}#{offsetDays}#{expiry}` per reminder, `NOTIF#DIGEST#{isoWeek}` per digest),
the duplicate-detection fingerprints (`DUP#{lookupKey}#{receiptId}`, receipt_vault/duplicates) and
the pairs flagged for review (`DUPPAIR#{receiptId}#{receiptId}`, the lower id first), the
calendar feed's pointer to its token (`META#CALENDAR_FEED`), the inbound e-mail address's pointer
(`META#INBOUND_ADDRESS`), and one item per e-mail message received (`INBOUND#{message digest}`).
Outside the users' partitions: a calendar feed's token and an inbound address, each by its hash
(`CALFEED#{sha256}`, `INADDR#{sha256}`, pointing back to its user), and the count of unknown feed
tokens a source sent in one hour (`CALMISS#{source hash}`).
Free text inside a key is case-folded and escaped, so `#` in a category cannot break a prefix.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

USER_PREFIX = "USER#"
RECEIPT_PREFIX = "RECEIPT#"
CATEGORIES_SK = "META#CATEGORIES"
SETTINGS_SK = "META#SETTINGS"
NOTIFICATION_PREFIX = "NOTIF#"
EXPIRY_JOB_PREFIX = "EXPIRY#"
DIGEST_JOB_PK = "DIGEST#WEEKLY"

# A receipt without a purchase date (an offline capture awaiting OCR) lists first, as the
# newest, and falls outside every date-range filter.
UNDATED_SORT_DATE = "9999-12-31"
# Sorts after every character a key component can hold, to close an inclusive range.
RANGE_END = "\uffff"

_WHITESPACE = re.compile(r"\s+")
# Free text in a key: at most this many (ASCII, escaped) bytes, the rest a digest. With the
# prefix, the date and the receipt id, a key stays far below DynamoDB's 1,024 bytes.
MAX_TEXT_KEY_BYTES = 256
TEXT_KEY_DIGEST_CHARS = 32


def user_pk(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


def receipt_sk(receipt_id: str) -> str:
    return f"{RECEIPT_PREFIX}{receipt_id}"


def receipt_key(user_id: str, receipt_id: str) -> dict[str, str]:
    return {"PK": user_pk(user_id), "SK": receipt_sk(receipt_id)}


def categories_key(user_id: str) -> dict[str, str]:
    return {"PK": user_pk(user_id), "SK": CATEGORIES_SK}


def settings_key(user_id: str) -> dict[str, str]:
    return {"PK": user_pk(user_id), "SK": SETTINGS_SK}


def user_id_of(partition_key: str) -> str:
    return partition_key.removeprefix(USER_PREFIX)


def normalize_text_key(value: str) -> str:
    """Case- and spacing-insensitive, with `#` and `%` escaped, and bounded in bytes.

    An index sort key holds at most 1,024 bytes, and escaping multiplies a non-ASCII character
    by up to 12 (an emoji is four escaped bytes). A longer value keeps its first
    MAX_TEXT_KEY_BYTES bytes plus a digest of the whole, so every accepted name has a key, and
    two names share one only if they are equal.
    """
    collapsed = _WHITESPACE.sub(" ", value.strip()).casefold()
    escaped = quote(collapsed, safe=" ")
    if len(escaped) <= MAX_TEXT_KEY_BYTES:
        return escaped
    digest = hashlib.sha256(escaped.encode("ascii")).hexdigest()[:TEXT_KEY_DIGEST_CHARS]
    return f"{escaped[: MAX_TEXT_KEY_BYTES - TEXT_KEY_DIGEST_CHARS - 1]}~{digest}"


def by_date_sk(sort_date: str, receipt_id: str) -> str:
    return f"{sort_date}#{receipt_id}"


def category_prefix(category: str) -> str:
    return f"CAT#{normalize_text_key(category)}#"


def store_prefix(store_name: str) -> str:
    return f"STORE#{normalize_text_key(store_name)}#"


def status_pk(user_id: str, status: str) -> str:
    return f"{user_pk(user_id)}#STATUS#{status}"


def warranty_pk(user_id: str) -> str:
    return f"{user_pk(user_id)}#ACTIVE"


def warranty_sk(expiry_date: str, receipt_id: str) -> str:
    return f"{expiry_date}#{receipt_id}"


def by_updated_sk(updated_at: str, receipt_id: str) -> str:
    return f"{updated_at}#{receipt_id}"


def expiry_job_pk(expiry_date: str) -> str:
    return f"{EXPIRY_JOB_PREFIX}{expiry_date}"


def receipt_job_sk(user_id: str, receipt_id: str) -> str:
    return f"{user_pk(user_id)}#{receipt_sk(receipt_id)}"


def reminder_ledger_sk(receipt_id: str, offset_days: int, expiry_date: str) -> str:
    return f"{NOTIFICATION_PREFIX}{receipt_id}#{offset_days}#{expiry_date}"


def digest_ledger_sk(iso_week: str) -> str:
    return f"{NOTIFICATION_PREFIX}DIGEST#{iso_week}"


EXPORT_PREFIX = "EXPORT#"
DELETION_PREFIX = "DELETION#"
DELETION_TOKEN_SK = "DELETION_TOKEN"  # noqa: S105 - a sort key, not a secret


def export_slot_key(user_id: str, slot: int) -> dict[str, str]:
    """One of the user's slots for an export in progress (receipt_vault/export_jobs.py)."""
    return {"PK": user_pk(user_id), "SK": f"EXPORTSLOT#{slot}"}  # not under EXPORT#: not a job


def quota_key(user_id: str, quota: str, day: str) -> dict[str, str]:
    """A user's daily counter of one kind of request, in their partition: erasure removes it."""
    return {"PK": user_pk(user_id), "SK": f"QUOTA#{quota}#{day}"}


def export_key(user_id: str, export_id: str) -> dict[str, str]:
    return {"PK": user_pk(user_id), "SK": f"{EXPORT_PREFIX}{export_id}"}


def deletion_token_key(user_id: str) -> dict[str, str]:
    return {"PK": user_pk(user_id), "SK": DELETION_TOKEN_SK}


def deletion_job_key(user_hash: str) -> dict[str, str]:
    """Outside the user's partition, which the deletion empties; keyed by a hash of the sub."""
    return {"PK": f"{DELETION_PREFIX}{user_hash}", "SK": "JOB"}


def user_digest(user_id: str) -> str:
    """The SHA-256 of a user's sub: what the table keeps of an erased account."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def erasure_key(user_id: str) -> dict[str, str]:
    """The erasure job of an account: it exists from the moment its erasure starts."""
    return deletion_job_key(user_digest(user_id))


def exports_prefix(user_id: str) -> str:
    return f"exports/{user_id}/"


def export_object_key(user_id: str, export_id: str) -> str:
    return f"{exports_prefix(user_id)}{export_id}.zip"


# Duplicate detection: one item per fingerprint lookup key of a receipt, in the user's partition,
# so a candidate is found by a Query on the key's prefix (receipt_vault/duplicates).
DUPLICATE_PREFIX = "DUP#"


def duplicate_prefix(lookup_key: str) -> str:
    return f"{DUPLICATE_PREFIX}{lookup_key}#"


def duplicate_key(user_id: str, lookup_key: str, receipt_id: str) -> dict[str, str]:
    return {"PK": user_pk(user_id), "SK": f"{duplicate_prefix(lookup_key)}{receipt_id}"}


# A pair of receipts flagged as possible duplicates, listed for review by a Query on the prefix.
# Not "DUP#…": a lookup key's Query never reads a pair. The lower id comes first, so a pair has
# one item whichever receipt found the other.
DUPLICATE_PAIR_PREFIX = "DUPPAIR#"


def duplicate_pair_key(user_id: str, receipt_id: str, other_id: str) -> dict[str, str]:
    first, second = sorted((receipt_id, other_id))
    return {"PK": user_pk(user_id), "SK": f"{DUPLICATE_PAIR_PREFIX}{first}#{second}"}


# A calendar feed: the user's pointer to the token, and the token's item, found by the hash of
# the token alone (the feed request carries nothing else), outside any user's partition.
CALENDAR_FEED_SK = "META#CALENDAR_FEED"
CALENDAR_TOKEN_PREFIX = "CALFEED#"  # noqa: S105 - a key prefix; the token itself is never stored
CALENDAR_MISS_PREFIX = "CALMISS#"


def calendar_feed_key(user_id: str) -> dict[str, str]:
    return {"PK": user_pk(user_id), "SK": CALENDAR_FEED_SK}


def calendar_token_key(token_hash: str) -> dict[str, str]:
    return {"PK": f"{CALENDAR_TOKEN_PREFIX}{token_hash}", "SK": "TOKEN"}


def calendar_miss_key(source_hash: str, window: str) -> dict[str, str]:
    return {"PK": f"{CALENDAR_MISS_PREFIX}{source_hash}", "SK": window}


# An inbound e-mail address: the same pair as a calendar feed's, keyed by the address's hash.
INBOUND_ADDRESS_SK = "META#INBOUND_ADDRESS"
INBOUND_ADDRESS_PREFIX = "INADDR#"
INBOUND_MESSAGE_PREFIX = "INBOUND#"


def inbound_address_key(user_id: str) -> dict[str, str]:
    return {"PK": user_pk(user_id), "SK": INBOUND_ADDRESS_SK}


def inbound_lookup_key(address_hash: str) -> dict[str, str]:
    return {"PK": f"{INBOUND_ADDRESS_PREFIX}{address_hash}", "SK": "ADDRESS"}


def inbound_message_key(user_id: str, message_digest: str) -> dict[str, str]:
    """A message received for the user, by the digest of its Message-ID: makes a redelivery
    idempotent, and names the raw object erasure must delete."""
    return {"PK": user_pk(user_id), "SK": f"{INBOUND_MESSAGE_PREFIX}{message_digest}"}
