"""Pydantic models of receipts: what a client may send, and what is stored and returned.

Money is a decimal string with an ISO 4217 currency, never a float. Unknown fields are
rejected, so a client can never write a server-owned field such as `serverVersion`,
`imageKeys` or `refinement`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from receipt_vault.model_base import InputModel, VaultModel, plain_text

MAX_LINE_ITEMS = 200
MAX_TAGS = 50
MAX_OCR_TEXT_BYTES = 20 * 1024
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

Money = Annotated[str, StringConstraints(pattern=r"^-?\d{1,12}(\.\d{1,4})?$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
ReceiptId = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]

ClientStatus = Literal["active", "returned", "archived"]
Status = Literal["active", "returned", "archived", "deleted"]

# The merge tiers of API.md, defined here once (merge.py, the contract test and the export use them).
# Tier 3, LLM-extractable: a stale device's value counts only if the user edited it.
EXTRACTABLE_FIELDS = (
    "storeName",
    "purchaseDate",
    "totalAmount",
    "currency",
    "taxAmount",
    "items",
    "warrantyMonths",
    "warrantyExpiryDate",
    "paymentMethod",
)
# Tier 2, user-owned: the device's change wins. ocrRawText is the device's own reading.
USER_OWNED_FIELDS = ("notes", "tags", "category", "status", "ocrRawText")
# Tier 1, server-owned: a device never writes them; a PUT may echo them back unchanged.
SERVER_OWNED_FIELDS = (
    "receiptId",
    "serverVersion",
    "createdAt",
    "updatedAt",
    "deletedAt",
    "imageKeys",
    "thumbnailKeys",
    "refinement",
)
CLIENT_WRITABLE_FIELDS = (*EXTRACTABLE_FIELDS, *USER_OWNED_FIELDS, "userEditedFields")
# Server-owned fields a PUT body may echo from GET, checked against the stored values.
ECHOED_SERVER_FIELDS = frozenset({"createdAt", "updatedAt", "deletedAt", "imageKeys", "thumbnailKeys", "refinement"})
EditableField = Literal[
    "storeName", "purchaseDate", "totalAmount", "currency", "taxAmount", "items",
    "warrantyMonths", "warrantyExpiryDate", "paymentMethod", "notes", "tags", "category",
    "status", "ocrRawText",
]  # fmt: skip


def _check_calendar_date(value: str | None) -> str | None:
    if value is not None:
        parsed = dt.date.fromisoformat(value)
        if not 1900 <= parsed.year <= 2199:
            raise ValueError("date out of range")
    return value


def _check_confidences(value: Any, depth: int) -> None:
    if depth > 3:
        raise ValueError("nested too deeply for a refinement")
    if isinstance(value, dict):
        for item in value.values():
            _check_confidences(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_confidences(item, depth + 1)
    elif isinstance(value, int | float) and not isinstance(value, bool) and not 0 <= value <= 1:
        raise ValueError("a refinement's numbers are confidences, from 0 to 1")


class LineItem(InputModel):
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    quantity: Annotated[Decimal, Field(ge=0, le=1_000_000, max_digits=12, decimal_places=4)] = Decimal(1)
    unitPrice: Money | None = None
    totalPrice: Money | None = None

    _one_line = field_validator("description", mode="before")(plain_text)

    @field_validator("quantity", mode="before")
    @classmethod
    def _a_number_not_a_string(cls, value: Any) -> Any:
        if isinstance(value, str | bool):  # the contract's `type: number`, as API Gateway checks it
            raise ValueError("quantity is a number")
        return Decimal(str(value)) if isinstance(value, int | float) else value


class ReceiptFields(InputModel):
    """The client-writable content of a receipt. Every field is optional: an offline capture
    may exist before its store or date is known."""

    storeName: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    purchaseDate: IsoDate | None = None
    totalAmount: Money | None = None
    currency: CurrencyCode | None = None
    taxAmount: Money | None = None
    category: ShortText | None = None
    items: Annotated[list[LineItem], Field(max_length=MAX_LINE_ITEMS)] | None = None
    paymentMethod: ShortText | None = None
    warrantyMonths: Annotated[int, Field(ge=0, le=600)] | None = None
    warrantyExpiryDate: IsoDate | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    tags: Annotated[list[ShortText], Field(max_length=MAX_TAGS)] | None = None
    ocrRawText: Annotated[str, StringConstraints(max_length=MAX_OCR_TEXT_BYTES)] | None = None
    userEditedFields: Annotated[list[EditableField], Field(max_length=20)] | None = None

    _dates = field_validator("purchaseDate", "warrantyExpiryDate")(_check_calendar_date)
    _one_line = field_validator("storeName", "category", "paymentMethod", "tags", mode="before")(plain_text)

    @field_validator("notes", "ocrRawText", mode="before")
    @classmethod
    def _plain_paragraphs(cls, value: Any) -> Any:
        return plain_text(value, multiline=True)

    @field_validator("ocrRawText")
    @classmethod
    def _ocr_text_fits(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode("utf-8")) > MAX_OCR_TEXT_BYTES:
            raise ValueError(f"ocrRawText exceeds {MAX_OCR_TEXT_BYTES} bytes")
        return value

    @field_validator("tags", "userEditedFields")
    @classmethod
    def _deduplicate(cls, value: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(value)) if value is not None else None

    def content(self) -> dict[str, Any]:
        """The client-writable fields set, status apart, ready to store (money as strings,
        quantities as Decimal)."""
        return self.model_dump(include=set(CLIENT_WRITABLE_FIELDS) - {"status"}, exclude_none=True)


class ReceiptCreate(ReceiptFields):
    receiptId: ReceiptId | None = None
    status: ClientStatus = "active"


class Refinement(VaultModel):
    model: str | None = None
    confidence: float | None = None
    fieldConfidence: dict[str, float] | None = None
    refinedAt: str | None = None
    needsReview: bool | None = None
    status: str | None = None


class ReceiptUpdate(ReceiptFields):
    """A full update: fields left out are removed. `status` may change here too.

    It accepts the representation GET returns, so a client can GET, edit and PUT back: the
    server-owned fields in it are ignored when they equal the stored ones (the write is
    conditional on that), and `receiptId` must be the path's. A deleted receipt's
    representation gets the 409 of any update of a deleted receipt; `status: deleted` on one
    that is not deleted is a 400, as a PUT never deletes.
    """

    serverVersion: Annotated[int, Field(ge=1)]
    status: Status | None = None  # `deleted` only as GET showed it: a PUT never deletes (409 or 400)
    receiptId: ReceiptId | None = None
    createdAt: str | None = None
    deletedAt: str | None = None
    updatedAt: str | None = None
    imageKeys: list[str] | None = None
    thumbnailKeys: list[str] | None = None
    refinement: dict[str, Any] | None = None  # as GET returned it, every key included

    @field_validator("refinement")
    @classmethod
    def _a_refinement_the_server_could_have_stored(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """A refinement holds confidences (0..1), texts and flags; anything else cannot equal the
        stored one, and would not even fit a DynamoDB number."""
        if value is not None:
            _check_confidences(value, depth=0)
        return value

    def echoed_server_fields(self) -> dict[str, Any]:
        """The server-owned fields the body carries, which must equal the stored ones."""
        names = self.model_fields_set & ECHOED_SERVER_FIELDS
        return self.model_dump(include=names, exclude_none=True)


class StatusChange(InputModel):
    status: ClientStatus
    serverVersion: Annotated[int, Field(ge=1)]


class ReceiptListQuery(InputModel):
    from_: IsoDate | None = Field(default=None, alias="from")
    to: IsoDate | None = None
    category: ShortText | None = None
    store: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    status: Status | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    nextToken: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None

    _dates = field_validator("from_", "to")(_check_calendar_date)

    def filters(self) -> dict[str, str]:
        """What a page token is bound to: every filter, but not the page size."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude={"limit", "nextToken"})


class Receipt(ReceiptFields):
    """A receipt as stored and returned: the client content plus server-owned fields."""

    model_config = ConfigDict(extra="ignore")

    receiptId: str
    status: Status
    imageKeys: list[str] = Field(default_factory=list)
    thumbnailKeys: list[str] = Field(default_factory=list)
    refinement: Refinement | None = None
    serverVersion: int
    createdAt: str
    updatedAt: str
    deletedAt: str | None = None


PUBLIC_FIELDS = frozenset(Receipt.model_fields)
