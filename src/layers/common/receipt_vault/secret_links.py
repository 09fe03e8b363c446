"""Secret names that stand for a user: a calendar feed's URL token, an inbound e-mail address.

Whoever presents one acts for its user, so it has at least 128 random bits, only its SHA-256 is
stored, and it can be rotated or revoked at once. Each kind is a pair of items:
- the lookup, outside every user's partition and keyed by the secret's hash alone (a request
  carries nothing else), naming its user;
- the user's pointer, in the user's partition, naming the hash.
A secret is honoured only while both agree, so a lookup left behind by a rotation, a revocation or
an erasure finds nobody. Erasure deletes each lookup through its pointer (`lookups_pointed_to`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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
from receipt_vault.errors import VersionConflictError
from receipt_vault.shapes import DynamoItem

ROTATION_ATTEMPTS = 2  # a concurrent rotation moved the pointer: once more, from where it is now


@dataclass(frozen=True)
class SecretKind:
    what: str  # for messages: "the calendar feed"
    pointer_sk: str
    pointer_key: Callable[[str], dict[str, str]]  # of a user id
    lookup_key: Callable[[str], dict[str, str]]  # of a secret's hash


CALENDAR_FEED = SecretKind("the calendar feed", keys.CALENDAR_FEED_SK, keys.calendar_feed_key, keys.calendar_token_key)
INBOUND_ADDRESS = SecretKind(
    "the inbound address", keys.INBOUND_ADDRESS_SK, keys.inbound_address_key, keys.inbound_lookup_key
)
SECRET_KINDS = (CALENDAR_FEED, INBOUND_ADDRESS)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def lookups_pointed_to(items: Iterable[DynamoItem]) -> list[dict[str, str]]:
    """The lookup items that a user's partition items point to: what erasure deletes with them."""
    by_pointer = {kind.pointer_sk: kind for kind in SECRET_KINDS}
    return [
        by_pointer[item["SK"]].lookup_key(str(item["tokenHash"]))
        for item in items
        if item["SK"] in by_pointer and item.get("tokenHash")
    ]


class SecretLinkStore:
    """DynamoDB access for one kind of secret: the pointer, the lookup, and their replacement."""

    def __init__(self, table: DynamoTable, kind: SecretKind) -> None:
        self.table = table
        self.kind = kind

    def pointer(self, user_id: str) -> DynamoItem | None:
        return self.table.get_item(self.kind.pointer_key(user_id))

    def owner_of(self, hashed: str) -> str | None:
        """The user a secret's hash belongs to, as its lookup says (the pointer decides)."""
        item = self.table.get_item(self.kind.lookup_key(hashed), consistent=False)
        return str(item["userId"]) if item else None

    def replace(self, user_id: str, previous_hash: str | None, new_hash: str, now: str) -> bool:
        """Point the user at a new secret, if the pointer is still as read, in one transaction:
        the new lookup, the pointer, and the old lookup deleted."""
        unchanged = Attr("tokenHash").eq(previous_hash) if previous_hash else Attr("tokenHash").not_exists()
        operations: list[TransactPut | TransactUpdate | TransactDelete] = [
            TransactPut(
                {**self.kind.lookup_key(new_hash), "userId": user_id, "createdAt": now}, Attr("PK").not_exists()
            ),
            TransactUpdate(
                self.kind.pointer_key(user_id),
                {"tokenHash": new_hash, "createdAt": now, "rotations": Increment(1)},
                [],
                unchanged,
            ),
        ]
        if previous_hash:
            operations.append(TransactDelete(self.kind.lookup_key(previous_hash)))
        with failures_as_api_errors(self.kind.what):
            return self.table.transact_write(operations).succeeded

    def revoke(self, user_id: str, hashed: str) -> bool:
        """Remove the pointer and the lookup, if the pointer still names this secret."""
        operations: list[TransactPut | TransactUpdate | TransactDelete] = [
            TransactDelete(self.kind.pointer_key(user_id), Attr("tokenHash").eq(hashed)),
            TransactDelete(self.kind.lookup_key(hashed)),
        ]
        with failures_as_api_errors(self.kind.what):
            return self.table.transact_write(operations).succeeded


class SecretLinks:
    """Rotation and revocation of one kind of secret, safe against a concurrent rotation."""

    def __init__(self, store: SecretLinkStore, new_secret: Callable[[], str]) -> None:
        self.store = store
        self.new_secret = new_secret

    def rotate(self, user_id: str, now: str) -> str:
        """A new secret for the user, replacing (revoking) any earlier one; returns the secret,
        which is shown this once."""
        for _ in range(ROTATION_ATTEMPTS):
            pointer = self.store.pointer(user_id)
            secret = self.new_secret()
            if self.store.replace(user_id, (pointer or {}).get("tokenHash"), secret_hash(secret), now):
                return secret
        raise VersionConflictError(f"{self.store.kind.what} changed meanwhile; try again", None)

    def revoke(self, user_id: str) -> None:
        """No secret any more; revoking none is no error."""
        for _ in range(ROTATION_ATTEMPTS):
            pointer = self.store.pointer(user_id)
            if pointer is None or self.store.revoke(user_id, str(pointer["tokenHash"])):
                return

    def owner(self, secret: str) -> str | None:
        """Whose secret this is, if the user's pointer still names it (one eventually consistent
        read of the lookup, one strong read of the pointer)."""
        hashed = secret_hash(secret)
        user_id = self.store.owner_of(hashed)
        if user_id is None:
            return None
        pointer = self.store.pointer(user_id)
        return user_id if pointer is not None and pointer.get("tokenHash") == hashed else None
