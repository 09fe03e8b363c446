"""From a raw message SES stored to receipts in the recipient's account.

Each outcome is final for the raw message, which is deleted once read: a message that is spam, a
virus, too large, for no known address, from a sender the user does not allow, or holding no
receipt is discarded (and counted), never bounced: a bounce would tell a sender which addresses
exist. Only transient failures (S3, DynamoDB, SQS) raise, so Lambda retries the event twice and
then hands it to the inbound-mail DLQ; the raw message stays until then.

A delivery is idempotent on the message's Message-ID, because SES and S3 may deliver twice: the
receipts' and originals' ids derive from the user, the Message-ID and the part's place, so a
redelivery, even of a delivery interrupted half-way, finishes what is missing and creates nothing
new. The message's item (`INBOUND#<digest>`) is written before any receipt, naming the raw
object, so an erasure that starts meanwhile deletes the raw message too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from inbound_mail.inbound_store import DELIVERED, InboundStore
from inbound_mail.mail_gateway import MailGateway
from inbound_mail.message_parser import Limits, ParsedMessage, ReceiptDocument, parse_message
from receipt_vault.clock import iso_timestamp
from receipt_vault.errors import RateLimitedError
from receipt_vault.images import ImageKey
from receipt_vault.inbound_addresses import is_allowed_sender, local_part_at
from receipt_vault.model_base import as_plain_text
from receipt_vault.quotas import DailyQuota
from receipt_vault.receipts.models import MAX_OCR_TEXT_BYTES, ReceiptCreate
from receipt_vault.receipts.status import DELETED
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.secret_links import SecretLinks
from receipt_vault.user_settings import UserSettings, local_date
from receipt_vault.validation import ValidationError

# The namespace of received receipts' ids (uuid5): stable across redeliveries of one message.
RECEIVED_IDS = uuid.UUID("6f2b6a52-2f4e-4c55-9d0e-8f3f0c1b7a90")
MESSAGE_RECORD_DAYS = 30  # a redelivery comes within hours; the record then expires (TTL)
MAX_RECIPIENTS = 5  # addresses of this domain one message may reach


@dataclass(frozen=True)
class MailroomConfig:
    domain: str
    max_message_size: int
    limits: Limits


class Mailroom:
    def __init__(
        self,
        gateway: MailGateway,
        store: InboundStore,
        receipts: ReceiptStore,
        addresses: SecretLinks,
        quota: DailyQuota,
        config: MailroomConfig,
        clock: Callable[[], dt.datetime],
        count: Callable[[str, str], None],  # (metric, reason)
    ) -> None:
        self.gateway = gateway
        self.store = store
        self.receipts = receipts
        self.addresses = addresses
        self.quota = quota
        self.config = config
        self.clock = clock
        self.count = count

    def receive(self, key: str, size: int) -> list[str]:
        """Turn one stored message into receipts; returns each recipient's outcome."""
        if size > self.config.max_message_size:
            return [self._discard(key, "too-large")]
        raw = self.gateway.raw_message(key, self.config.max_message_size)
        if len(raw) > self.config.max_message_size:
            return [self._discard(key, "too-large")]
        message = parse_message(raw, self.config.limits)
        scanned_out = message.dropped_by_scan
        if scanned_out:
            return [self._discard(key, scanned_out)]
        owners = self._owners(message)
        if not owners:
            return [self._discard(key, "unknown-recipient")]
        outcomes = [self._deliver(user_id, message, key) for user_id in owners]
        self.gateway.discard(key)
        return outcomes

    def _owners(self, message: ParsedMessage) -> list[str]:
        owners: list[str] = []
        local_parts = [local_part_at(address, self.config.domain) for address in message.envelope_recipients]
        for local_part in list(dict.fromkeys(part for part in local_parts if part))[:MAX_RECIPIENTS]:
            owner = self.addresses.owner(local_part)
            if owner is not None and owner not in owners:
                owners.append(owner)
        return owners

    def _deliver(self, user_id: str, message: ParsedMessage, raw_key: str) -> str:
        state = self.store.recipient_state(user_id, message.digest)
        if state.erasing:
            return self._dropped("account-erasure")
        if state.message is not None and state.message.get("status") == DELIVERED:
            return "already-delivered"
        settings = UserSettings.from_item(state.settings)
        refusal = self._refusal(message, settings)
        if refusal:
            return self._dropped(refusal)
        now = self.clock()
        if state.message is None:
            try:
                self.quota.take(user_id, now)
            except RateLimitedError:
                return self._dropped("daily-limit")
            self.store.record_message(user_id, message.digest, self._record(message, raw_key, now))
        receipt_ids = [
            self._receipt(user_id, message, index, document, settings, now)
            for index, document in enumerate(message.documents)
        ]
        self.store.mark_delivered(user_id, message.digest, receipt_ids, iso_timestamp(now))
        self.count("ReceiptsReceived", "email")
        return f"delivered:{len(receipt_ids)}"

    def _refusal(self, message: ParsedMessage, settings: UserSettings) -> str | None:
        allowed = settings.inbound_allowed_senders
        if allowed and not is_allowed_sender(message.origin.sender, allowed):
            return "sender-not-allowed"
        if allowed and not message.sender_proven:
            return "sender-not-authenticated"  # a From line anyone can write: an allow-list needs proof
        if not message.documents:
            return "no-receipt"
        return None

    def _receipt(
        self,
        user_id: str,
        message: ParsedMessage,
        index: int,
        document: ReceiptDocument,
        settings: UserSettings,
        now: dt.datetime,
    ) -> str:
        """Create the receipt (if no earlier delivery did), store its original, ask for its
        refinement. The original's S3 event makes its thumbnail and checks for duplicates."""
        name = f"{user_id}\n{message.digest}\n{index}"
        receipt_id = str(uuid.uuid5(RECEIVED_IDS, name))
        image = ImageKey(user_id, receipt_id, str(uuid.uuid5(RECEIVED_IDS, f"{name}\nimage")), document.extension)
        result = self.receipts.create(
            user_id,
            receipt_id,
            _receipt_content(document, settings),
            now,
            server_owned={"source": "email", "email": _email_origin(message, document, now)},
        )
        current = result.item or {}
        if current.get("status") == DELETED or image.key in current.get("imageKeys", []):
            return receipt_id  # deleted by the user since, or complete: nothing to redo
        self.gateway.store_original(image.key, document.data, document.content_type)
        self.gateway.request_refinement(user_id, receipt_id, image.key)
        return receipt_id

    def _record(self, message: ParsedMessage, raw_key: str, now: dt.datetime) -> dict[str, object]:
        return {
            "rawKey": raw_key,
            "receivedAt": iso_timestamp(now),
            "sender": message.origin.sender,
            "receipts": len(message.documents),
            "ttl": int((now + dt.timedelta(days=MESSAGE_RECORD_DAYS)).timestamp()),
        }

    def _discard(self, key: str, reason: str) -> str:
        self.gateway.discard(key)
        return self._dropped(reason)

    def _dropped(self, reason: str) -> str:
        self.count("MessagesDiscarded", reason)
        return f"discarded:{reason}"


def _receipt_content(document: ReceiptDocument, settings: UserSettings) -> ReceiptCreate:
    """What is known before the refinement: the day it was sent (in the user's timezone), and an
    HTML receipt's text, which the refinement reads."""
    content: dict[str, object] = {}
    if document.origin.sent_at is not None:
        content["purchaseDate"] = local_date(document.origin.sent_at, settings.timezone).isoformat()
    if document.text:
        text = as_plain_text(document.text)
        content["ocrRawText"] = text.encode("utf-8")[:MAX_OCR_TEXT_BYTES].decode("utf-8", "ignore")
    try:
        return ReceiptCreate.model_validate(content)
    except ValidationError:  # a date outside the API's calendar: the refinement finds the real one
        content.pop("purchaseDate", None)
        return ReceiptCreate.model_validate(content)


def _email_origin(message: ParsedMessage, document: ReceiptDocument, now: dt.datetime) -> dict[str, object]:
    origin = document.origin
    fields: dict[str, object] = {
        "sender": as_plain_text(origin.sender, multiline=False),
        "receivedAt": iso_timestamp(now),
        **message.authentication,
    }
    if origin.sender_name:
        fields["senderName"] = as_plain_text(origin.sender_name, multiline=False)
    if origin.subject:
        fields["subject"] = as_plain_text(origin.subject, multiline=False)
    if origin.sent_at is not None:
        fields["sentAt"] = iso_timestamp(origin.sent_at.astimezone(dt.UTC))
    return fields
