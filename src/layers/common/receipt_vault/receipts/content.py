"""The one stored form of a receipt's client content, which every write path stores and compares.

Two writes that mean the same thing store the same thing, so a write that changes nothing is
recognised and writes nothing: on the item read before a push, and in the condition of a full
update, which reads nothing first. The form:
- absence has one spelling: a null, an empty string or an empty list is the field left out,
  inside line items too (a line item never carries `unitPrice: null`; an extended cover's or a
  claim's model refuses a null), and `warrantyStatus: active` is no status (absent is active);
- `tags` and `userEditedFields` are sets: stored sorted, without duplicates;
- a line item's quantity is a plain decimal: 2, 2.0 and 2.00 are all 2;
- money stays the decimal string the client sent; whole numbers are ints, as sent.

`content_hash` fingerprints the form (status apart, which has its own writes); every receipt
carries it as `contentHash`. `content_size` bounds a receipt, so that any valid push or page
fits Lambda's 6 MB payload limit, and any receipt DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from receipt_vault.receipts.models import CLIENT_WRITABLE_FIELDS
from receipt_vault.shapes import DynamoItem, DynamoValue, ItemView

SET_FIELDS = frozenset({"tags", "userEditedFields"})
MAX_RECEIPT_BYTES = 64 * 1024  # of the stored content, as UTF-8 JSON


def plain_decimal(value: DynamoValue) -> Decimal:
    """2, 2.0 and Decimal('2.00') as Decimal('2'); 0.50 as Decimal('0.5'); never an exponent."""
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if number == number.to_integral_value():
        return Decimal(int(number))
    return Decimal(format(number.normalize(), "f"))


def _line_item(item: ItemView) -> DynamoItem:
    line = {name: value for name, value in item.items() if value is not None and value != ""}
    line["quantity"] = plain_decimal(line.get("quantity", 1))
    return line


def _whole_numbers(record: ItemView) -> DynamoItem:
    """A nested record (an extended cover, a claim) without absent fields, its counts as ints
    (DynamoDB hands numbers back as Decimal)."""
    form = {name: value for name, value in record.items() if value is not None}
    for name, value in form.items():
        if isinstance(value, Decimal):
            form[name] = int(value)
    return form


def _is_absent(value: DynamoValue) -> bool:
    return value is None or value == "" or value == []


def canonical_content(content: ItemView) -> DynamoItem:
    """The stored form of client-writable content (see the module's docstring)."""
    form: DynamoItem = {}
    for name, value in content.items():
        if _is_absent(value) or (name == "warrantyStatus" and value == "active"):  # absent is active
            continue
        if name in SET_FIELDS:
            value = sorted(set(value))
        elif name == "items":
            value = [_line_item(item) for item in value]
        elif name == "extendedWarranty":
            value = _whole_numbers(value)
        elif name == "claims":
            value = [_whole_numbers(claim) for claim in value]
        elif isinstance(value, Decimal):  # warrantyMonths, as DynamoDB hands numbers back
            value = int(value) if value == value.to_integral_value() else value
        form[name] = value
    return form


def stored_content(item: ItemView) -> DynamoItem:
    """The client-writable content of a stored receipt, status included, in the stored form."""
    return canonical_content({name: item[name] for name in CLIENT_WRITABLE_FIELDS if name in item})


def _encoded(content: ItemView) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def content_hash(content: ItemView) -> str:
    """Fingerprint of the stored form, status left out (status changes are writes of their own)."""
    form = canonical_content({name: value for name, value in content.items() if name != "status"})
    return hashlib.sha256(_encoded(form)).hexdigest()


def content_size(content: ItemView) -> int:
    """Bytes of the stored form as UTF-8 JSON."""
    return len(_encoded(canonical_content(content)))
