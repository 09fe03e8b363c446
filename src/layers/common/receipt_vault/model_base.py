"""Base classes for the models of the layer (receipt_vault.validation), and the text rules they share."""

from __future__ import annotations

import re
from typing import ClassVar

from receipt_vault.validation import Extra, Model, key_as_named


class VaultModel(Model):
    """What the service reads back (a stored record, a model's answer): unknown fields are dropped."""

    extra: ClassVar[Extra] = "ignore"


class InputModel(Model):
    """A request body or query: unknown fields are errors, never silently dropped."""

    extra: ClassVar[Extra] = "forbid"


# Never meant in a receipt: C0 controls other than tab and newlines, DEL, C1 controls, the bidi
# embeddings, overrides and isolates that make text read otherwise than it is stored (Trojan
# Source), the Unicode line and paragraph separators, the byte-order mark, lone surrogates and
# the noncharacters U+FFFE/U+FFFF. Marks that right-to-left and joined scripts need (LRM, RLM,
# ALM, ZWJ, ZWNJ) and emoji tag sequences stay allowed.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]"
)
_LINE_BREAKS = re.compile("[\t\n\r]")

# The same rule as patterns, which the models of trimmed and free-text fields declare and
# api/openapi.yaml repeats for API Gateway's models (tests/contract compares them): one line; one
# line not blank once trimmed (some character besides Unicode White_Space, which `trimmed` strips);
# several lines. No pattern can name a lone surrogate (UTF-8 regex engines have none): plain_text
# refuses it, and the JSON reader (Model.model_validate_json) a body that escapes one.
_NEVER = r"\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff"
_BLANK = r" \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
ONE_LINE = rf"^[^\x00-\x1f{_NEVER}]*$"
ONE_LINE_NOT_BLANK = rf"^[{_BLANK}]*[^\x00-\x1f{_NEVER}{_BLANK}][^\x00-\x1f{_NEVER}]*$"
SEVERAL_LINES = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f{_NEVER}]*$"
# A version counts one item's writes. Its bound keeps it an exact integer in every client language
# (JavaScript's Number.MAX_SAFE_INTEGER) and far inside DynamoDB's 38 digits, so an absurd one
# is a 400 and never reaches the table (the contract's `maximum` repeats it).
MAX_VERSION = 2**53 - 1


def trimmed(text: str) -> str:
    """A trimmed field, after its checks: its limits and pattern hold for the text as sent, as
    API Gateway's model reads it (ONE_LINE_NOT_BLANK leaves only _BLANK around it to strip)."""
    return text.strip()


def plain_text(value: object, multiline: bool = False) -> object:
    """A validator of free text: refuses control and bidi-override characters, and line breaks
    where the text is one line. Strings in lists are checked one by one."""
    if isinstance(value, list):
        return [plain_text(item, multiline) for item in value]
    if isinstance(value, str) and (_UNSAFE.search(value) or (not multiline and _LINE_BREAKS.search(value))):
        raise ValueError("text may not hold control or bidi-override characters")
    return value


def as_plain_text(text: str, multiline: bool = True) -> str:
    """Text from elsewhere (a received e-mail) made fit for a free-text field: what plain_text
    refuses is dropped, and line breaks become spaces where the field is one line."""
    text = _UNSAFE.sub("", text)
    return text if multiline else " ".join(_LINE_BREAKS.sub(" ", text).split())


def refuse_nulls(value: object) -> object:
    """A nested record's fields are given or left out, never null, as its schema says: a push,
    which API Gateway does not validate, must refuse what a POST's model refuses. For a model's
    `before_fields`."""
    if isinstance(value, dict):
        nulls = sorted({key_as_named(name) for name, item in value.items() if item is None})
        if nulls:
            raise ValueError(f"leave a field out rather than null: {', '.join(nulls)}")
    return value
