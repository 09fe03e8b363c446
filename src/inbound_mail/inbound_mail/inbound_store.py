"""DynamoDB access for received mail: the message's item in the user's partition, and what a
delivery reads about the user in one BatchGetItem."""

from __future__ import annotations

from dataclasses import dataclass

from boto3.dynamodb.conditions import Attr

from receipt_vault import keys
from receipt_vault.dynamo import DynamoTable, conditional_put
from receipt_vault.shapes import DynamoItem

DELIVERED, RECEIVING = "delivered", "receiving"


@dataclass(frozen=True)
class RecipientState:
    settings: DynamoItem | None
    erasing: bool
    message: DynamoItem | None  # this message's item, if it was received before


class InboundStore:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def recipient_state(self, user_id: str, message_digest: str) -> RecipientState:
        wanted = {
            "settings": keys.settings_key(user_id),
            "erasure": keys.erasure_key(user_id),
            "message": keys.inbound_message_key(user_id, message_digest),
        }
        found = {(item["PK"], item["SK"]): item for item in self.table.batch_get(list(wanted.values()))}
        settings, erasure, message = (found.get((key["PK"], key["SK"])) for key in wanted.values())
        return RecipientState(settings, erasure is not None, message)

    def record_message(self, user_id: str, message_digest: str, details: DynamoItem) -> None:
        """The message's item, written before its receipts: erasure finds the raw object through
        it. A concurrent delivery of the same message may have written it first; that is fine."""
        item = {**keys.inbound_message_key(user_id, message_digest), **details, "status": RECEIVING}
        conditional_put(self.table, item, Attr("PK").not_exists())

    def mark_delivered(self, user_id: str, message_digest: str, receipt_ids: list[str], now: str) -> None:
        self.table.update_item(
            keys.inbound_message_key(user_id, message_digest),
            {"status": DELIVERED, "receiptIds": receipt_ids, "deliveredAt": now},
            [],
            None,
        )
