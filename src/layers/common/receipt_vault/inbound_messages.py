"""The messages a user's inbound address received (`INBOUND#<digest>` items, inbound_mail), as
an export lists them, with the address's state (never the address: only its hash is kept)."""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

from receipt_vault import keys
from receipt_vault.dynamo import DynamoTable
from receipt_vault.shapes import JsonObject

EXPORTED_FIELDS = ("receivedAt", "deliveredAt", "sender", "status", "receiptIds")


def inbound_mail_record(table: DynamoTable, user_id: str) -> JsonObject:
    pointer = table.get_item(keys.inbound_address_key(user_id))
    condition = Key("PK").eq(keys.user_pk(user_id)) & Key("SK").begins_with(keys.INBOUND_MESSAGE_PREFIX)
    messages = [
        {name: item[name] for name in EXPORTED_FIELDS if name in item} for item in table.query_all(None, condition)
    ]
    address = (
        {"enabled": True, "createdAt": pointer.get("createdAt"), "rotations": int(pointer.get("rotations", 1))}
        if pointer
        else {"enabled": False}
    )
    return {"address": address, "messages": sorted(messages, key=lambda message: str(message.get("receivedAt")))}
