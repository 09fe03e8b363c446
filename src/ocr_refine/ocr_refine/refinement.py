"""OCR refinement logic, free of AWS: what goes to the model, how its answer is read and judged.

- Input: OCR text is capped, and card numbers and loyalty or membership ids are redacted
  before any of it leaves the account.
- Output: the model is forced to call one tool whose input schema is the extraction. A model
  that answers in text instead is still read: code fences and trailing commas are tolerated,
  but the result must pass the same schema.
- Judgement: an extraction whose items do not add up to its total, whose date is in the
  future or implausible, or whose currency is not ISO 4217, is as doubtful as one with low
  confidence. Either sends the receipt to the fallback model.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from receipt_vault.model_base import VaultModel
from receipt_vault.shapes import DynamoItem, JsonObject, JsonValue
from receipt_vault.validation import Integer, ListOf, MapOf, Nested, Number, Text, ValidationError, field, optional

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime.type_defs import ConverseResponseTypeDef

MAX_OCR_CHARACTERS = 8_000  # about 2,000 tokens: a long pharmacy receipt fits
TOOL_NAME = "record_receipt"
ROUNDING_TOLERANCE = Decimal("0.02")
EARLIEST_PLAUSIBLE_DATE = dt.date(2000, 1, 1)

# ISO 4217 active codes, kept as data next to this module.
ISO_4217 = frozenset(
    line.strip()
    for line in (Path(__file__).parent / "iso_4217.txt").read_text(encoding="ascii").splitlines()
    if line.strip() and not line.startswith("#")
)

_CARD_NUMBER = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_MASKED_CARD = re.compile(r"(?:[X*•#]{4}[ -]?){2,4}\d{4}", re.IGNORECASE)
_MEMBER_ID = re.compile(
    r"(?P<label>\b(?:loyalty|member(?:ship)?|club|customer|kunden|mitglied|payback|fid[eé]lit[eé]|adh[eé]rent|"
    r"μέλους|μέλος|πελάτη|κάρτα\s+μέλους)\b[^\n\d]{0,25})(?P<id>[A-Z0-9][A-Z0-9 -]{4,}[A-Z0-9])",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")

SYSTEM_PROMPT = (
    "You extract structured data from the OCR text of a shopping receipt. The text may be noisy and in "
    "any language (often English, German, Greek or French). Dates are day-first unless clearly not. "
    f"Always answer by calling the {TOOL_NAME} tool. Amounts are decimal strings as printed on the receipt "
    "(the total is the amount paid; report a tip included in it as tip). Give a confidence in 0..1 for the "
    "whole extraction and "
    "for each field; leave out what the receipt does not show."
)


def redact_personal_data(text: str) -> str:
    """Card numbers keep their last four digits; loyalty and membership ids are removed."""
    text = _MASKED_CARD.sub(lambda match: "[card ****" + match.group(0)[-4:] + "]", text)
    text = _CARD_NUMBER.sub(lambda match: "[card ****" + re.sub(r"\D", "", match.group(0))[-4:] + "]", text)
    return _MEMBER_ID.sub(lambda match: match.group("label") + "[id]", text)


def prepare_ocr_text(text: str) -> str:
    return redact_personal_data(text.strip())[:MAX_OCR_CHARACTERS]


def _money(value: object) -> str | None:
    """A decimal string with two places; a lone decimal comma is read as a point."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        return str(Decimal(text).quantize(Decimal("0.01")))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


CONFIDENCE = Number(ge=0, le=1)


# The answer's types are checked here, its limits not: a value that breaks a limit of what a
# client may write (a 201-character merchant, 201 items, a warranty of 601 months) is dropped
# by `problems_of` and flagged for review, never a reason to discard the whole answer.


class ExtractedItem(VaultModel):
    description: str = field(Text())
    quantity: float | None = optional(Number())
    unitPrice: str | None = optional(Text(), before=_money)
    totalPrice: str | None = optional(Text(), before=_money)


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _iso_date(value: str) -> str:
    dt.date.fromisoformat(value)
    return value


class Extraction(VaultModel):
    """The model's answer, as the tool schema describes it."""

    merchant: str | None = optional(Text())
    date: str | None = optional(Text(), after=_iso_date)
    currency: str | None = optional(Text(), before=_upper)
    total: str | None = optional(Text(), before=_money)
    tax: str | None = optional(Text(), before=_money)
    tip: str | None = optional(Text(), before=_money)
    items: list[ExtractedItem] = field(ListOf(Nested(ExtractedItem)), default_factory=list)
    paymentMethod: str | None = optional(Text())
    warrantyMonths: int | None = optional(Integer())
    confidence: float = field(CONFIDENCE)
    fieldConfidence: dict[str, float] = field(MapOf(CONFIDENCE), default_factory=dict)


TOOL_SPEC = {
    "toolSpec": {
        "name": TOOL_NAME,
        "description": "Record the structured data of the receipt.",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {
                    "merchant": {"type": "string"},
                    "date": {"type": "string", "description": "YYYY-MM-DD"},
                    "currency": {"type": "string", "description": "ISO 4217 code"},
                    "total": {"type": "string", "description": "decimal, e.g. 12.90"},
                    "tax": {"type": "string"},
                    "tip": {"type": "string", "description": "a tip included in the total, if any"},
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "description": {"type": "string"},
                                "quantity": {"type": "number"},
                                "unitPrice": {"type": "string"},
                                "totalPrice": {"type": "string"},
                            },
                            "required": ["description"],
                        },
                    },
                    "paymentMethod": {"type": "string", "enum": ["card", "cash", "mobile", "voucher", "other"]},
                    "warrantyMonths": {"type": "integer", "minimum": 0},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "fieldConfidence": {"type": "object", "additionalProperties": {"type": "number"}},
                },
                "required": ["confidence"],
            }
        },
    }
}


def converse_request(model_id: str, ocr_text: str, image: tuple[str, bytes] | None) -> JsonObject:
    """A Converse request that forces the extraction tool; the OCR text is fenced as data."""
    content: list[JsonObject] = []
    if image is not None:
        image_format, image_bytes = image
        content.append({"image": {"format": image_format, "source": {"bytes": image_bytes}}})
    content.append({"text": f"<ocr_text>\n{ocr_text}\n</ocr_text>" if ocr_text else "The receipt is in the image."})
    return {
        "modelId": model_id,
        "system": [{"text": SYSTEM_PROMPT}],
        "messages": [{"role": "user", "content": content}],
        "toolConfig": {"tools": [TOOL_SPEC], "toolChoice": {"tool": {"name": TOOL_NAME}}},
        "inferenceConfig": {"maxTokens": 1000, "temperature": 0},
    }


class MalformedAnswerError(Exception):
    """The model's answer could not be read as an extraction."""


def parse_answer(response: ConverseResponseTypeDef) -> Extraction:
    """The tool call's input; failing that, a JSON object in the text, fences and trailing
    commas forgiven. Either way the schema decides."""
    blocks = response.get("output", {}).get("message", {}).get("content", [])
    candidate: JsonValue = next((block["toolUse"]["input"] for block in blocks if "toolUse" in block), None)
    if candidate is None:
        text = "".join(block.get("text", "") for block in blocks)
        candidate = _json_in_text(text)
    try:
        return Extraction.model_validate(candidate)
    except ValidationError as error:
        raise MalformedAnswerError(f"the answer does not fit the schema: {error.error_count()} problems") from None


def _json_in_text(text: str) -> JsonValue:
    cleaned = _FENCE.sub("", text.strip())
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0 or end < start:
        raise MalformedAnswerError("the answer holds no JSON object")
    body = _TRAILING_COMMA.sub(r"\1", cleaned[start : end + 1])
    try:
        return json.loads(body)
    except ValueError:
        raise MalformedAnswerError("the answer's JSON does not parse") from None


def problems_of(extraction: Extraction, today: dt.date) -> list[str]:
    """Reasons to doubt an extraction, besides its own confidence: a field that fails the
    validation user input goes through (a total of "NaN", a date of "2025-W23-1") first."""
    problems = [f"invalid-{name}" for name in _invalid_fields(_extracted_fields(extraction))]
    if extraction.currency is not None and extraction.currency not in ISO_4217:
        problems.append("currency-not-iso-4217")
    if extraction.date is not None:
        date = dt.date.fromisoformat(extraction.date)
        if date > today + dt.timedelta(days=1):
            problems.append("date-in-the-future")
        elif date < EARLIEST_PLAUSIBLE_DATE:
            problems.append("date-implausible")
    priced = [item.totalPrice for item in extraction.items if item.totalPrice is not None]
    amounts = [Decimal(value) for value in (*priced, extraction.total, extraction.tip, extraction.tax) if value]
    if any(not amount.is_finite() for amount in amounts):  # "NaN", "Infinity": flagged as invalid above
        return problems
    if extraction.total is not None and priced and len(priced) == len(extraction.items):
        items_sum = sum(Decimal(price) for price in priced) + Decimal(extraction.tip or "0")
        tax = Decimal(extraction.tax or "0")
        total = Decimal(extraction.total)
        # Prices may be printed with or without tax (a tip is part of the total); one must match.
        if min(abs(items_sum - total), abs(items_sum + tax - total)) > ROUNDING_TOLERANCE * len(priced):
            problems.append("items-do-not-add-up")
    return problems


def receipt_fields(extraction: Extraction) -> DynamoItem:
    """The receipt's fields from an extraction, each valid as user input would have to be:
    an invalid one is dropped (and named among the problems, so the receipt needs review)."""
    fields = _extracted_fields(extraction)
    invalid = _invalid_fields(fields)
    return {name: value for name, value in fields.items() if name not in invalid}


def _invalid_fields(fields: Mapping[str, object]) -> set[str]:
    """The fields that ReceiptFields, the model of what a client may write, refuses."""
    from receipt_vault.receipts.models import ReceiptFields

    invalid = set()
    for name, value in fields.items():
        try:
            ReceiptFields.model_validate({name: value})
        except ValidationError:
            invalid.add(name)
    return invalid


def _extracted_fields(extraction: Extraction) -> DynamoItem:
    fields: DynamoItem = {
        "storeName": extraction.merchant,
        "purchaseDate": extraction.date,
        "currency": extraction.currency if extraction.currency in ISO_4217 else None,
        "totalAmount": extraction.total,
        "taxAmount": extraction.tax,
        "paymentMethod": extraction.paymentMethod,
        "warrantyMonths": extraction.warrantyMonths,
    }
    if extraction.items:
        fields["items"] = [
            {
                key: value
                for key, value in {
                    "description": item.description,
                    "quantity": Decimal(str(item.quantity)) if item.quantity is not None else Decimal(1),
                    "unitPrice": item.unitPrice,
                    "totalPrice": item.totalPrice,
                }.items()
                if value is not None
            }
            for item in extraction.items
        ]
    return {name: value for name, value in fields.items() if value is not None}
