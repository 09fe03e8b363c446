"""The notification ledger: each scheduled notification is sent at most once, and not lost.

Before sending, a job claims the notification with a conditional put on its ledger item
(`attribute_not_exists`). Exactly one of any number of overlapping runs wins the claim; the
others skip. After the push the claim is marked sent. A claim that is never completed, because
the run crashed or timed out between claim and push, expires after a lease, so the next run or
retry sends it; a claim whose push failed on every device is released at once.

The lease is longer than any run (the scheduled functions time out after 60 s), so a live run's
claim is never taken over. Ledger items expire through DynamoDB's TTL after their `expires_at`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from boto3.dynamodb.conditions import Attr

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import DynamoTable, conditional_delete, conditional_put, conditional_update
from receipt_vault.push import Notification, PushSender
from receipt_vault.shapes import DynamoItem

CLAIM_LEASE = dt.timedelta(minutes=5)
SENDING, SENT = "sending", "sent"


@dataclass(frozen=True)
class Claim:
    user_id: str
    ledger_sk: str
    claim_id: str

    @property
    def key(self) -> dict[str, str]:
        return {"PK": keys.user_pk(self.user_id), "SK": self.ledger_sk}


class NotificationLedger:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def claim(self, user_id: str, ledger_sk: str, moment: dt.datetime, expires_at: dt.datetime) -> Claim | None:
        """The claim, or None when the notification was sent or another run is sending it."""
        claim = Claim(user_id, ledger_sk, str(uuid.uuid4()))
        now = iso_timestamp(moment)
        item = {
            **claim.key,
            "state": SENDING,
            "claimId": claim.claim_id,
            "claimedAt": now,
            "leaseUntil": iso_timestamp(moment + CLAIM_LEASE),
            "ttl": int(expires_at.timestamp()),
        }
        abandoned = Attr("state").eq(SENDING) & Attr("leaseUntil").lt(now)
        result = conditional_put(self.table, item, Attr("PK").not_exists() | abandoned)
        return claim if result.succeeded else None

    def complete(self, claim: Claim, moment: dt.datetime, devices: int) -> bool:
        """Mark the claim sent; False if the lease was lost to another run meanwhile."""
        result = conditional_update(
            self.table,
            claim.key,
            {"state": SENT, "sentAt": iso_timestamp(moment), "devices": devices},
            ["leaseUntil"],
            Attr("claimId").eq(claim.claim_id),
        )
        return result.succeeded

    def release(self, claim: Claim) -> None:
        """Give the notification back: the next run or retry sends it."""
        conditional_delete(self.table, claim.key, Attr("claimId").eq(claim.claim_id) & Attr("state").eq(SENDING))


ALREADY_SENT, DELIVERED, NO_DEVICE, FAILED, ERASED = "alreadySent", "delivered", "noDevice", "failed", "erased"


@dataclass(frozen=True)
class Delivery:
    outcome: str  # one of ALREADY_SENT, DELIVERED, NO_DEVICE, FAILED, ERASED
    removed_devices: tuple[str, ...] = ()


class OncePerLedgerPush:
    """A push that the ledger lets through once: claim, push, then complete or release."""

    def __init__(self, ledger: NotificationLedger, push: PushSender, clock: Callable[[], dt.datetime]) -> None:
        self.ledger = ledger
        self.push = push
        self.clock = clock

    def is_erased(self, user_id: str) -> bool:
        """Whether the account's erasure has started: a run asks once per user, then sends
        that user's notifications with `erasure_checked`."""
        return self.push.erased.is_erased(user_id)

    def send(
        self,
        user_id: str,
        ledger_sk: str,
        expires_at: dt.datetime,
        notification: Notification,
        devices: dict[str, DynamoItem],
        erasure_checked: bool = False,
    ) -> Delivery:
        if not erasure_checked and self.is_erased(user_id):  # no ledger entry either
            return Delivery(ERASED)
        claim = self.ledger.claim(user_id, ledger_sk, self.clock(), expires_at)
        if claim is None:
            return Delivery(ALREADY_SENT)
        try:
            pushed = self.push.send(user_id, notification, devices, erasure_checked=True)
        except Exception:
            self.ledger.release(claim)
            raise
        removed = tuple(pushed.removed)
        if pushed.sent == 0 and pushed.failed:
            self.ledger.release(claim)  # nothing reached the user: the retry sends it
            return Delivery(FAILED, removed)
        self.ledger.complete(claim, self.clock(), pushed.sent)
        return Delivery(DELIVERED if pushed.sent else NO_DEVICE, removed)  # NO_DEVICE: every endpoint was gone
