"""The sync routes' request bodies: pull, full reconciliation, and push with its items."""

from __future__ import annotations

import json

from receipt_vault.api import validation_details
from receipt_vault.clock import canonical_instant
from receipt_vault.errors import BadRequestError
from receipt_vault.model_base import InputModel
from receipt_vault.receipts.models import (
    CLIENT_WRITABLE_FIELDS,
    LINE_ITEMS,
    RECEIPT_ID,
    STATUS,
    VERSION,
    LineItem,
    ReceiptFields,
    Status,
)
from receipt_vault.shapes import DynamoItem, JsonValue
from receipt_vault.validation import AnyJson, Integer, ListOf, Text, ValidationError, field, optional

MAX_MUTATION_ID_LENGTH = 64
SYNC_INSTANT = Text(max_length=64, after=canonical_instant)
CURSOR = Text(min_length=1, max_length=2048)
MUTATION_ID = Text(min_length=1, max_length=MAX_MUTATION_ID_LENGTH, pattern=r"^[\x21-\x7e]+$")
PAGE_SIZE = Integer(ge=1, le=500)


class PullRequest(InputModel):
    lastSyncTimestamp: str | None = optional(SYNC_INSTANT)
    limit: int = field(PAGE_SIZE, default=100)
    cursor: str | None = optional(CURSOR)


class FullRequest(InputModel):
    limit: int = field(PAGE_SIZE, default=100)
    cursor: str | None = optional(CURSOR)


class PushRequest(InputModel):
    """Items are validated one by one, so that one bad item does not fail the batch."""

    items: list[JsonValue] = field(ListOf(AnyJson(), min_length=1))


def _status_is_never_removed(value: object) -> object:
    """Only an explicit null matters here: a receipt always has a status, so a push cannot remove it."""
    if value is None:
        raise ValueError("status cannot be removed: leave it out to keep it")
    return value


def _line_items_hold_no_null(value: object) -> object:
    """A null removes a receipt's field, never a line item's: a line item is the contract's
    LineItem, as in a REST body, where API Gateway's model refuses a null in one."""
    if isinstance(value, list) and any(isinstance(line, dict) and None in line.values() for line in value):
        raise ValueError("a line item leaves a field out rather than null")
    return value


class PushItem(ReceiptFields):
    """The changes of one receipt since `serverVersion` (absent for a receipt made offline)."""

    items: list[LineItem] | None = optional(LINE_ITEMS, before=_line_items_hold_no_null)
    receiptId: str = field(RECEIPT_ID)
    mutationId: str | None = optional(MUTATION_ID)
    serverVersion: int | None = optional(VERSION)
    # absent: no change; never null (SyncPushItem.status)
    status: Status | None = optional(STATUS, before=_status_is_never_removed)

    def changes(self) -> DynamoItem:
        """The fields the device sent: a null removes the field."""
        present = self.model_fields_set & set(CLIENT_WRITABLE_FIELDS)
        return self.model_dump(include=present)


def validated_push_item(raw: JsonValue) -> PushItem:
    """As strict as the REST routes, whose bodies API Gateway checks against the JSON schema
    first: no "24" for a number, no `true` for an integer."""
    try:
        return PushItem.model_validate_json(json.dumps(raw), strict=True)
    except ValidationError as error:
        if any(issue["type"] == "json_invalid" for issue in error.errors()):
            raise BadRequestError("the item is not valid JSON: nested too deeply, or a lone surrogate") from None
        raise BadRequestError("invalid receipt", validation_details(error)) from None
    except RecursionError:
        raise BadRequestError("the item is nested too deeply") from None
