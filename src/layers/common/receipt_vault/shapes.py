"""Type aliases for data whose shape the code does not model statically, each with the reason.

`Any` stays inside these aliases, so that each use says which kind of unmodelled data it is: a
value of one is read by key where it is used and checked there (models, receipt_vault.validation,
at the API's edge and for stored receipts), not by the type checker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

# JSON as it arrives or leaves: an API body, an SQS or SNS message, a Lambda event, a model's
# answer. `json.loads` gives Any; the shape is validated by the models at the edge or read field by
# field, and values nest (objects, arrays, numbers, strings, booleans, null) to any depth.
JsonObject: TypeAlias = dict[str, Any]
JsonValue: TypeAlias = Any

# A DynamoDB item as boto3's resource layer reads and writes it: attribute values are str,
# Decimal, bool, bytes, sets, lists and maps, varying per attribute and per kind of item (a
# receipt, a device, a job, a counter); the code reading an attribute knows its type.
DynamoItem: TypeAlias = dict[str, Any]
DynamoValue: TypeAlias = Any  # one attribute's value, as above
ItemView: TypeAlias = Mapping[str, Any]  # an item or part of one (a receipt's content), read only
