"""The confirmation step of account deletion: a single-use token, valid for 5 minutes.

Only its SHA-256 is stored (`USER#{sub}` / `DELETION_TOKEN`). Consuming it is one conditional
delete that also checks the expiry, since DynamoDB's TTL removes expired items only eventually.
A new request replaces an earlier token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TypedDict

from boto3.dynamodb.conditions import Attr

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import DynamoTable, conditional_delete

TOKEN_LIFETIME = dt.timedelta(minutes=5)


class DeletionToken(TypedDict):
    """POST /user/account/deletion-token (API.md)."""

    deletionToken: str
    expiresAt: str
    expiresIn: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class DeletionTokens:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def issue(self, user_id: str, moment: dt.datetime) -> DeletionToken:
        token = secrets.token_urlsafe(32)
        expires = moment + TOKEN_LIFETIME
        self.table.put_item(
            {
                **keys.deletion_token_key(user_id),
                "tokenHash": _digest(token),
                "expiresAt": iso_timestamp(expires),
                "ttl": int(expires.timestamp()),
            }
        )
        return {
            "deletionToken": token,
            "expiresAt": iso_timestamp(expires),
            "expiresIn": int(TOKEN_LIFETIME.total_seconds()),
        }

    def consume(self, user_id: str, token: str, moment: dt.datetime) -> bool:
        """True exactly once for a valid, unexpired token."""
        condition = Attr("tokenHash").eq(_digest(token)) & Attr("expiresAt").gt(iso_timestamp(moment))
        return conditional_delete(self.table, keys.deletion_token_key(user_id), condition).succeeded
