"""Models of receipts: what a client may send, and what is stored and returned.

Money is a decimal string with an ISO 4217 currency, never a float. Unknown fields are
rejected, so a client can never write a server-owned field such as `serverVersion`,
`imageKeys` or `refinement`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal, get_args

from receipt_vault.model_base import (
    MAX_VERSION,
    ONE_LINE_NOT_BLANK,
    SEVERAL_LINES,
    InputModel,
    VaultModel,
    plain_text,
    refuse_nulls,
    trimmed,
)
from receipt_vault.shapes import DynamoItem, JsonObject
from receipt_vault.validation import (
    AnyJson,
    Boolean,
    DecimalNumber,
    Extra,
    Integer,
    ListOf,
    MapOf,
    Nested,
    Number,
    OneOf,
    Text,
    field,
    optional,
)

MAX_LINE_ITEMS = 200
MAX_TAGS = 50
MAX_OCR_TEXT_BYTES = 20 * 1024
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Every date the API takes (a receipt's, a listing's or an export's bounds) is a day of the
# calendar from 1900 to 2199, spelled out so that API Gateway's model refuses what this refuses
# (api/openapi.yaml repeats it): months of 31 and 30 days, February's 28, and February 29 in the
# leap years only (1900 and 2100 are none, 2000 is one).
_MONTH_AND_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR = (
    r"(?:19(?:0[48]|[2468][048]|[13579][26])|20(?:[02468][048]|[13579][26])|21(?:0[48]|[2468][048]|[13579][26]))"
)
CALENDAR_DATE = rf"^(?:(?:19|2[01])[0-9]{{2}}-{_MONTH_AND_DAY}|{_LEAP_YEAR}-02-29)$"
# A warranty's end, the user's or derived: a purchase date plus up to 600 months, so up to 2249
# (leap years 2204 to 2248; 2200 is none), and a GET's receipt always goes back in a PUT.
EXPIRY_DATE = (
    rf"^(?:(?:(?:19|2[01])[0-9]{{2}}|22[0-4][0-9])-{_MONTH_AND_DAY}"
    rf"|(?:{_LEAP_YEAR}|22(?:0[48]|[24][048]|[13][26]))-02-29)$"
)

MONEY = Text(pattern=r"^-?\d{1,12}(\.\d{1,4})?$")
CURRENCY_CODE = Text(pattern=r"^[A-Z]{3}$")
ISO_DATE = Text(pattern=CALENDAR_DATE)
EXPIRY_DAY = Text(pattern=EXPIRY_DATE)
# Trimmed one-line text, not blank: checked as sent, then trimmed.
SHORT_TEXT = Text(min_length=1, max_length=50, pattern=ONE_LINE_NOT_BLANK, after=trimmed)
STORE_NAME = Text(min_length=1, max_length=200, pattern=ONE_LINE_NOT_BLANK, after=trimmed)
NOTES = Text(max_length=5000, pattern=SEVERAL_LINES)
RECEIPT_ID = Text(pattern=UUID_PATTERN)
VERSION = Integer(ge=1, le=MAX_VERSION)


def paragraphs(value: object) -> object:
    """plain_text for a field of several lines (notes, OCR text)."""
    return plain_text(value, multiline=True)


ClientStatus = Literal["active", "returned", "archived"]
Status = Literal["active", "returned", "archived", "deleted"]
# The warranty's own state, set by the user: `void` (the cover no longer holds, e.g. opened by an
# unauthorised repairer) or `expired` (it is over early, e.g. the product was replaced). Either
# takes the receipt out of the warranty indexes: no reminders, no calendar event.
WarrantyStatus = Literal["active", "void", "expired"]

# The merge tiers of API.md, defined here once as types; the tuples below, merge.py, the
# contract test and the export derive from them.
# Tier 3, LLM-extractable: a stale device's value counts only if the user edited it.
ExtractableField = Literal[
    "storeName", "purchaseDate", "totalAmount", "currency", "taxAmount", "items",
    "warrantyMonths", "warrantyExpiryDate", "paymentMethod",
]  # fmt: skip
# Tier 2, user-owned: the device's change wins. ocrRawText is the device's own reading.
UserOwnedField = Literal[
    "notes", "tags", "category", "status", "ocrRawText", "warrantyStatus", "extendedWarranty", "claims",
]  # fmt: skip
# Tier 1, server-owned: a device never writes them; a PUT may echo them back unchanged.
ServerOwnedField = Literal[
    "receiptId", "serverVersion", "createdAt", "updatedAt", "deletedAt", "imageKeys", "thumbnailKeys", "refinement",
    "possibleDuplicates", "source", "email",
]  # fmt: skip
# What userEditedFields may name: every field a user can edit (Literal flattens the two tiers).
EditableField = Literal[ExtractableField, UserOwnedField]

EXTRACTABLE_FIELDS: tuple[str, ...] = get_args(ExtractableField)
USER_OWNED_FIELDS: tuple[str, ...] = get_args(UserOwnedField)
SERVER_OWNED_FIELDS: tuple[str, ...] = get_args(ServerOwnedField)
CLIENT_WRITABLE_FIELDS = (*EXTRACTABLE_FIELDS, *USER_OWNED_FIELDS, "userEditedFields")
# Server-owned fields a PUT body may echo from GET, checked against the stored values. The other
# two have their own rule: receiptId must be the path's, serverVersion is the write's condition.
ECHOED_SERVER_FIELDS = frozenset(SERVER_OWNED_FIELDS) - {"receiptId", "serverVersion"}


def _check_confidences(value: object, depth: int) -> None:
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


def _a_number_not_a_string(value: object) -> object:
    if isinstance(value, str | bool):  # the contract's `type: number`, as API Gateway checks it
        raise ValueError("quantity is a number")
    return Decimal(str(value)) if isinstance(value, int | float) else value


class LineItem(InputModel):
    description: str = field(
        Text(min_length=1, max_length=500, pattern=ONE_LINE_NOT_BLANK, after=trimmed), before=plain_text
    )
    quantity: Decimal = field(
        DecimalNumber(ge=0, le=1_000_000, max_digits=12, decimal_places=4),
        default=Decimal(1),
        before=_a_number_not_a_string,
    )
    unitPrice: str | None = optional(MONEY)
    totalPrice: str | None = optional(MONEY)


class ExtendedWarranty(InputModel):
    """Cover bought on top of the manufacturer's. It ends on `expiryDate`, or `months` after the
    purchase date; the warranty in force is the later of the two covers."""

    before_fields = (refuse_nulls,)

    provider: str = field(SHORT_TEXT, before=plain_text)
    expiryDate: str | None = optional(EXPIRY_DAY)
    months: int | None = optional(Integer(ge=1, le=600))
    cost: str | None = optional(MONEY)
    reference: str | None = optional(SHORT_TEXT, before=plain_text)

    def check(self) -> None:
        if (self.expiryDate is None) == (self.months is None):
            raise ValueError("an extended warranty ends on expiryDate or after months: give exactly one")


ClaimStatus = Literal["open", "approved", "rejected", "repaired", "replaced", "refunded"]
# A claim's outcomes: closed, it has a closedAt; an ending one may end the warranty, a repair
# may extend it.
CLOSED_CLAIM_STATUSES = ("rejected", "repaired", "replaced", "refunded")
WARRANTY_ENDING_OUTCOMES = ("replaced", "refunded")
MAX_CLAIMS = 20
CLAIM_STATUS = OneOf(get_args(ClaimStatus))
# A claim's id, as its receipt's: canonical in lower case.
CLAIM_ID = Text(pattern=UUID_PATTERN, after=str.lower)
EXTENSION_MONTHS = Integer(ge=1, le=120)


class Claim(InputModel):
    """A warranty claim, as the user records it. With `replaced` or `refunded` and `endsWarranty`,
    the warranty is over; with `repaired` and `extendsWarrantyMonths`, the cover runs at least
    that long after `closedAt`."""

    before_fields = (refuse_nulls,)

    claimId: str = field(CLAIM_ID)
    openedAt: str = field(ISO_DATE)
    status: ClaimStatus = field(CLAIM_STATUS, default="open")
    reference: str | None = optional(SHORT_TEXT, before=plain_text)
    notes: str | None = optional(NOTES, before=paragraphs)
    closedAt: str | None = optional(ISO_DATE)
    cost: str | None = optional(MONEY)
    endsWarranty: bool | None = optional(Boolean())
    extendsWarrantyMonths: int | None = optional(EXTENSION_MONTHS)

    def check(self) -> None:
        if self.closedAt is not None and self.status not in CLOSED_CLAIM_STATUSES:
            raise ValueError("a claim has a closedAt only once closed (rejected, repaired, replaced, refunded)")
        if self.closedAt is not None and self.closedAt < self.openedAt:
            raise ValueError("a claim closes on or after the day it opened")
        if self.endsWarranty is not None and self.status not in WARRANTY_ENDING_OUTCOMES:
            raise ValueError("only a replaced or refunded claim can end the warranty (endsWarranty)")
        if self.extendsWarrantyMonths is not None and (self.status != "repaired" or self.closedAt is None):
            raise ValueError("only a repaired claim with its closedAt extends the warranty (extendsWarrantyMonths)")


def _ocr_text_fits(value: str) -> str:
    if len(value.encode("utf-8")) > MAX_OCR_TEXT_BYTES:
        raise ValueError(f"ocrRawText exceeds {MAX_OCR_TEXT_BYTES} bytes")
    return value


def _deduplicate(value: list[str]) -> list[str]:
    return list(dict.fromkeys(value))


def _one_claim_per_id(value: list[Claim]) -> list[Claim]:
    if len({claim.claimId for claim in value}) != len(value):
        raise ValueError("each claim has its own claimId")
    return value


LINE_ITEMS = ListOf(Nested(LineItem), max_length=MAX_LINE_ITEMS)


class ReceiptFields(InputModel):
    """The client-writable content of a receipt. Every field is optional: an offline capture
    may exist before its store or date is known."""

    storeName: str | None = optional(STORE_NAME, before=plain_text)
    purchaseDate: str | None = optional(ISO_DATE)
    totalAmount: str | None = optional(MONEY)
    currency: str | None = optional(CURRENCY_CODE)
    taxAmount: str | None = optional(MONEY)
    category: str | None = optional(SHORT_TEXT, before=plain_text)
    items: list[LineItem] | None = optional(LINE_ITEMS)
    paymentMethod: str | None = optional(SHORT_TEXT, before=plain_text)
    warrantyMonths: int | None = optional(Integer(ge=0, le=600))
    warrantyExpiryDate: str | None = optional(EXPIRY_DAY)
    warrantyStatus: WarrantyStatus | None = optional(OneOf(get_args(WarrantyStatus)))  # absent: active
    extendedWarranty: ExtendedWarranty | None = optional(Nested(ExtendedWarranty))
    claims: list[Claim] | None = optional(ListOf(Nested(Claim), max_length=MAX_CLAIMS), after=_one_claim_per_id)
    notes: str | None = optional(NOTES, before=paragraphs)
    tags: list[str] | None = optional(ListOf(SHORT_TEXT, max_length=MAX_TAGS), before=plain_text, after=_deduplicate)
    ocrRawText: str | None = optional(
        Text(max_length=MAX_OCR_TEXT_BYTES, pattern=SEVERAL_LINES), before=paragraphs, after=_ocr_text_fits
    )
    userEditedFields: list[EditableField] | None = optional(
        ListOf(OneOf(get_args(EditableField)), max_length=20), after=_deduplicate
    )

    def content(self) -> DynamoItem:
        """The client-writable fields set, status apart, ready to store (money as strings,
        quantities as Decimal)."""
        return self.model_dump(include=set(CLIENT_WRITABLE_FIELDS) - {"status"}, exclude_none=True)


class ReceiptCreate(ReceiptFields):
    receiptId: str | None = optional(RECEIPT_ID)
    status: ClientStatus = field(OneOf(get_args(ClientStatus)), default="active")


class Refinement(VaultModel):
    model: str | None = optional(Text())
    confidence: float | None = optional(Number())
    fieldConfidence: dict[str, float] | None = optional(MapOf(Number()))
    refinedAt: str | None = optional(Text())
    needsReview: bool | None = optional(Boolean())
    status: Literal["refined", "failed"] | None = optional(OneOf(("refined", "failed")))
    # why the result is doubtful (refined), or why each model failed
    problems: list[str] | None = optional(ListOf(Text()))


# Where a receipt came from: absent for the app's own captures, `email` for one received at the
# user's inbound address (inbound_mail), with the message it came in.
ReceiptSource = Literal["email"]
AuthenticationResult = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]
AUTHENTICATION_RESULT = OneOf(get_args(AuthenticationResult))


class EmailOrigin(InputModel):
    """The message a receipt came in: who sent it, about what, when, and what SES found of its
    authenticity (the SPF, DKIM and DMARC results of SES's Authentication-Results header)."""

    sender: str = field(Text())
    senderName: str | None = optional(Text())
    subject: str | None = optional(Text())
    sentAt: str | None = optional(Text())
    receivedAt: str = field(Text())
    spf: AuthenticationResult = field(AUTHENTICATION_RESULT)
    dkim: AuthenticationResult = field(AUTHENTICATION_RESULT)
    dmarc: AuthenticationResult = field(AUTHENTICATION_RESULT)


DuplicateReason = Literal["same-image", "same-content", "similar-text", "similar-image"]


class PossibleDuplicate(InputModel):
    """Another receipt of the user that may be this one (receipt_vault/duplicates), for review.
    Stored as a map by receiptId, so a flag is added once and atomically; shown as a list."""

    receiptId: str = field(RECEIPT_ID)
    reasons: list[DuplicateReason] = field(ListOf(OneOf(get_args(DuplicateReason)), min_length=1, max_length=4))
    score: float = field(Number(ge=0, le=1))


def duplicates_as_stored(flags: list[PossibleDuplicate]) -> DynamoItem:
    """Echoed flags as stored, to be compared. Stored scores have two decimals; rounding keeps an
    echoed 1e-300, which no DynamoDB number holds, from failing the comparison itself."""
    return {
        flag.receiptId.lower(): {"reasons": list(flag.reasons), "score": Decimal(str(round(flag.score, 6)))}
        for flag in flags
    }


def duplicates_as_shown(stored: DynamoItem) -> list[JsonObject]:
    return [
        {"receiptId": receipt_id, "reasons": list(entry["reasons"]), "score": float(entry["score"])}
        for receipt_id, entry in sorted(stored.items())
    ]


def _a_refinement_the_server_could_have_stored(value: JsonObject) -> JsonObject:
    """A refinement holds confidences (0..1), texts and flags; anything else cannot equal the
    stored one, and would not even fit a DynamoDB number."""
    _check_confidences(value, depth=0)
    return value


STATUS = OneOf(get_args(Status))


class ReceiptUpdate(ReceiptFields):
    """A full update: fields left out are removed. `status` may change here too.

    It accepts the representation GET returns, so a client can GET, edit and PUT back: the
    server-owned fields in it are ignored when they equal the stored ones (the write is
    conditional on that), and `receiptId` must be the path's. A deleted receipt's
    representation gets the 409 of any update of a deleted receipt; `status: deleted` on one
    that is not deleted is a 400, as a PUT never deletes.
    """

    serverVersion: int = field(VERSION)
    status: Status | None = optional(STATUS)  # `deleted` only as GET showed it: a PUT never deletes (409 or 400)
    receiptId: str | None = optional(RECEIPT_ID)
    createdAt: str | None = optional(Text())
    deletedAt: str | None = optional(Text())
    updatedAt: str | None = optional(Text())
    imageKeys: list[str] | None = optional(ListOf(Text()))
    thumbnailKeys: list[str] | None = optional(ListOf(Text()))
    # as GET returned it, every key included
    refinement: JsonObject | None = optional(
        AnyJson(object_only=True), after=_a_refinement_the_server_could_have_stored
    )
    possibleDuplicates: list[PossibleDuplicate] | None = optional(ListOf(Nested(PossibleDuplicate), max_length=20))
    source: ReceiptSource | None = optional(OneOf(get_args(ReceiptSource)))
    email: EmailOrigin | None = optional(Nested(EmailOrigin))

    def echoed_server_fields(self) -> JsonObject:
        """The server-owned fields the body carries, which must equal the stored ones."""
        names = self.model_fields_set & ECHOED_SERVER_FIELDS
        echoed = self.model_dump(include=names, exclude_none=True)
        if self.possibleDuplicates is not None:  # compared as stored: a map by receiptId
            echoed["possibleDuplicates"] = duplicates_as_stored(self.possibleDuplicates)
        return echoed


class StatusChange(InputModel):
    status: ClientStatus = field(OneOf(get_args(ClientStatus)))
    serverVersion: int = field(VERSION)


class ReceiptListQuery(InputModel):
    """The listing's filters. A parameter it does not know is a 400, as the contract says: a
    misspelt filter (`categroy=`) must not silently answer every receipt."""

    from_: str | None = optional(ISO_DATE, alias="from")
    to: str | None = optional(ISO_DATE)
    category: str | None = optional(SHORT_TEXT)
    store: str | None = optional(STORE_NAME)
    status: Status | None = optional(STATUS)
    limit: int = field(Integer(ge=1, le=100), default=50)
    nextToken: str | None = optional(Text(min_length=1, max_length=2048))

    def filters(self) -> dict[str, str]:
        """What a page token is bound to: every filter, but not the page size."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude={"limit", "nextToken"})


class Receipt(ReceiptFields):
    """A receipt as stored and returned: the client content plus server-owned fields."""

    extra: ClassVar[Extra] = "ignore"

    receiptId: str = field(Text())
    status: Status = field(STATUS)
    imageKeys: list[str] = field(ListOf(Text()), default_factory=list)
    thumbnailKeys: list[str] = field(ListOf(Text()), default_factory=list)
    refinement: Refinement | None = optional(Nested(Refinement))
    possibleDuplicates: list[PossibleDuplicate] = field(ListOf(Nested(PossibleDuplicate)), default_factory=list)
    source: ReceiptSource | None = optional(OneOf(get_args(ReceiptSource)))
    email: EmailOrigin | None = optional(Nested(EmailOrigin))
    serverVersion: int = field(Integer())
    createdAt: str = field(Text())
    updatedAt: str = field(Text())
    deletedAt: str | None = optional(Text())


PUBLIC_FIELDS = frozenset(Receipt.model_fields)
