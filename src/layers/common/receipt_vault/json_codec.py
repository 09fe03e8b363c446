"""JSON as the API writes it: DynamoDB's Decimals as numbers, sets as sorted lists, UTF-8 text.

Apart from the API plumbing, so that code without a REST route (the export handler) writes the
same JSON without importing Powertools' event handler.
"""

from __future__ import annotations

import json
from decimal import Decimal

from receipt_vault.shapes import JsonValue


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(value: object, sort_keys: bool = False) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)


def decimal_numbers(value: JsonValue) -> JsonValue:
    """JSON's numbers as DynamoDB holds them, decimals: a float (a model's confidence, say) by its repr."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: decimal_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [decimal_numbers(item) for item in value]
    return value
