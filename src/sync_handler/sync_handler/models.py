"""The sync routes' request bodies: pull, full reconciliation, and push with its items."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, ValidationError, field_validator

from receipt_vault.api import validation_details
from receipt_vault.clock import canonical_instant
from receipt_vault.errors import BadRequestError
from receipt_vault.model_base import MAX_VERSION, InputModel
from receipt_vault.receipts.models import CLIENT_WRITABLE_FIELDS, ReceiptFields, ReceiptId, Status
from receipt_vault.shapes import DynamoItem, JsonValue

MAX_MUTATION_ID_LENGTH = 64
SyncInstant = Annotated[str, StringConstraints(max_length=64), AfterValidator(canonical_instant)]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
MutationId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_MUTATION_ID_LENGTH, pattern=r"^[\x21-\x7e]+$")
]


class PullRequest(InputModel):
    lastSyncTimestamp: SyncInstant | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    cursor: Cursor | None = None


class FullRequest(InputModel):
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    cursor: Cursor | None = None


class PushRequest(InputModel):
    """Items are validated one by one, so that one bad item does not fail the batch."""

    items: Annotated[list[JsonValue], Field(min_length=1)]


class PushItem(ReceiptFields):
    """The changes of one receipt since `serverVersion` (absent for a receipt made offline)."""

    receiptId: ReceiptId
    mutationId: MutationId | None = None
    serverVersion: Annotated[int, Field(ge=1, le=MAX_VERSION)] | None = None
    status: Status | None = None  # absent: no change; never null (SyncPushItem.status)

    @field_validator("status", mode="before")
    @classmethod
    def _status_is_never_removed(cls, value: object) -> object:
        """Only an explicit null comes here: a receipt always has a status, so a push cannot remove it."""
        if value is None:
            raise ValueError("status cannot be removed: leave it out to keep it")
        return value

    @field_validator("items", mode="before")
    @classmethod
    def _line_items_hold_no_null(cls, value: object) -> object:
        """A null removes a receipt's field, never a line item's: a line item is the contract's
        LineItem, as in a REST body, where API Gateway's model refuses a null in one."""
        if isinstance(value, list) and any(isinstance(line, dict) and None in line.values() for line in value):
            raise ValueError("a line item leaves a field out rather than null")
        return value

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
