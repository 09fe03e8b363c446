"""DynamoDB access shared by the data-access modules: a thin table over the low-level client.

The low-level client with boto3's own serializer and condition builder does what the `Table`
resource does, and costs about 15 ms less at every cold start.

Conditional writes ask for `ReturnValuesOnConditionCheckFailure=ALL_OLD`. When a write loses
a race, the caller gets the current item from the failed write itself and can answer 409 with
it, without a second read.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import boto3
from boto3.dynamodb.conditions import ConditionBase, ConditionExpressionBuilder
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from receipt_vault.errors import ApiError, RateLimitedError
from receipt_vault.json_codec import decimal_numbers
from receipt_vault.shapes import DynamoItem
from receipt_vault.snapstart import drops_connections_on_restore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# DynamoDB's wire form of an item or key ({"name": {"S": "..."}}), between TypeSerializer and
# the client: boto3's serializer and the client's stubs name it by TypedDicts that do not match.
WireItem: TypeAlias = Mapping[str, Any]
# A low-level request or response, built up or read field by field around `**request`: the
# client's stubs check the call, not the dict it is built in.
Request: TypeAlias = dict[str, Any]
Response: TypeAlias = Mapping[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

BATCH_GET_LIMIT = 100  # keys per BatchGetItem call
BATCH_WRITE_LIMIT = 25  # requests per BatchWriteItem call
UNPROCESSED_RETRIES = 5
UNPROCESSED_BACKOFF_SECONDS = 0.05


class UnprocessedItemsError(RuntimeError):
    """DynamoDB kept returning unprocessed keys or requests after every retry: throttled, try
    again later."""


# Fail fast and let the client retry: API Gateway gives a request 29 s at most.
CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


def serialize(item: Mapping[str, object]) -> WireItem:
    return {name: _serializer.serialize(decimal_numbers(value)) for name, value in item.items()}


def deserialize(item: WireItem) -> DynamoItem:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


class DynamoTable:
    """One table: plain Python values in and out, conditions as boto3 condition objects."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.client = client
        self.name = name

    def get_item(self, key: Mapping[str, object], consistent: bool = True) -> DynamoItem | None:
        response = self.client.get_item(TableName=self.name, Key=serialize(key), ConsistentRead=consistent)
        return deserialize(response["Item"]) if "Item" in response else None

    def put_item(self, item: Mapping[str, object], condition: ConditionBase | None = None) -> None:
        request: Request = {"TableName": self.name, "Item": serialize(item)}
        if condition is not None:
            request.update(_expression_fields(ConditionExpressionBuilder(), condition, "ConditionExpression"))
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self.client.put_item(**request)

    def update_item(
        self,
        key: Mapping[str, object],
        set_values: Mapping[str, object],
        remove: list[str],
        condition: ConditionBase | None,
    ) -> DynamoItem:
        """An update that returns the item as it is after it; without a condition, an upsert."""
        expression, names, values = update_expression(set_values, remove)
        request: Request = {
            "TableName": self.name,
            "Key": serialize(key),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
        }
        if values:  # DynamoDB refuses an empty map
            request["ExpressionAttributeValues"] = serialize(values)
        if condition is not None:
            _merge(request, _expression_fields(ConditionExpressionBuilder(), condition, "ConditionExpression"))
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return deserialize(self.client.update_item(**request)["Attributes"])

    def delete_item(self, key: Mapping[str, object], condition: ConditionBase | None = None) -> None:
        request: Request = {"TableName": self.name, "Key": serialize(key)}
        if condition is not None:
            request.update(_expression_fields(ConditionExpressionBuilder(), condition, "ConditionExpression"))
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self.client.delete_item(**request)

    def batch_get(self, keys: Sequence[Mapping[str, object]], consistent: bool = True) -> list[DynamoItem]:
        """Items for up to any number of keys, 100 a call; unprocessed keys are retried with
        jittered exponential backoff. Missing items are simply absent from the result."""
        items: list[DynamoItem] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            batch: Request = {
                self.name: {
                    "Keys": [serialize(key) for key in keys[start : start + BATCH_GET_LIMIT]],
                    "ConsistentRead": consistent,
                }
            }
            for response in send_until_processed(self.client.batch_get_item, batch, "UnprocessedKeys"):
                items += [deserialize(item) for item in response.get("Responses", {}).get(self.name, [])]
        return items

    def batch_delete(self, keys: Sequence[Mapping[str, object]]) -> int:
        """Delete any number of items, 25 a call; unprocessed ones are retried with jittered
        exponential backoff. Returns how many deletes were sent."""
        for start in range(0, len(keys), BATCH_WRITE_LIMIT):
            batch: Request = {
                self.name: [
                    {"DeleteRequest": {"Key": serialize(key)}} for key in keys[start : start + BATCH_WRITE_LIMIT]
                ]
            }
            send_until_processed(self.client.batch_write_item, batch, "UnprocessedItems")
        return len(keys)

    def batch_write(self, puts: Sequence[Mapping[str, object]], deletes: Sequence[Mapping[str, object]]) -> None:
        """Put and delete any number of items, 25 a call, unconditionally; unprocessed ones are
        retried with jittered exponential backoff."""
        requests: list[object] = [{"PutRequest": {"Item": serialize(item)}} for item in puts]
        requests += [{"DeleteRequest": {"Key": serialize(key)}} for key in deletes]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            batch: Request = {self.name: requests[start : start + BATCH_WRITE_LIMIT]}
            send_until_processed(self.client.batch_write_item, batch, "UnprocessedItems")

    def transact_write(self, operations: Sequence[TransactPut | TransactUpdate | TransactDelete]) -> TransactionResult:
        """All or nothing, each operation conditional. When a condition fails, the result says
        which, with the current item of each failed one (ReturnValuesOnConditionCheckFailure)."""
        items = []
        for operation in operations:
            builder = ConditionExpressionBuilder()
            request: Request = {"TableName": self.name}
            if isinstance(operation, TransactPut):
                request["Item"] = serialize(operation.item)
                kind = "Put"
            elif isinstance(operation, TransactDelete):
                request["Key"] = serialize(operation.key)
                kind = "Delete"
            else:
                expression, names, values = update_expression(operation.set_values, operation.remove)
                request.update(
                    Key=serialize(operation.key), UpdateExpression=expression, ExpressionAttributeNames=names
                )
                if values:
                    request["ExpressionAttributeValues"] = serialize(values)
                kind = "Update"
            if operation.condition is not None:
                _merge(request, _expression_fields(builder, operation.condition, "ConditionExpression"))
                request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            items.append({kind: request})
        try:
            # Each {"Put" | "Update": request}, built as the other requests are (Request).
            self.client.transact_write_items(TransactItems=cast("list[TransactWriteItemTypeDef]", items))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            failed = [
                (index, deserialize(reason["Item"]) if reason.get("Item") else None)
                for index, reason in enumerate(reasons)
                if reason.get("Code") == "ConditionalCheckFailed"
            ]
            if not failed:  # cancelled for another reason (a conflicting transaction): retryable
                raise
            return TransactionResult(False, dict(failed))
        return TransactionResult(True, {})

    def query(
        self,
        index_name: str | None,
        key_condition: ConditionBase,
        filter_condition: ConditionBase | None = None,
        limit: int | None = None,
        start_key: Mapping[str, object] | None = None,
        newest_first: bool = False,
    ) -> tuple[list[DynamoItem], DynamoItem | None]:
        """One Query call: the page's items and its LastEvaluatedKey."""
        builder = ConditionExpressionBuilder()  # one builder: placeholders never repeat
        request: Request = {"TableName": self.name, "ScanIndexForward": not newest_first}
        if index_name:
            request["IndexName"] = index_name
        _merge(request, _expression_fields(builder, key_condition, "KeyConditionExpression", is_key=True))
        if filter_condition is not None:
            _merge(request, _expression_fields(builder, filter_condition, "FilterExpression"))
        if limit:
            request["Limit"] = limit
        if start_key:
            request["ExclusiveStartKey"] = serialize(start_key)
        response = self.client.query(**request)
        last_key = response.get("LastEvaluatedKey")
        return [deserialize(item) for item in response.get("Items", [])], deserialize(last_key) if last_key else None

    def query_all(
        self, index_name: str | None, key_condition: ConditionBase, filter_condition: ConditionBase | None = None
    ) -> Iterator[DynamoItem]:
        """Every item the query matches, page after page, read as they are consumed."""
        start_key = None
        while True:
            items, start_key = self.query(index_name, key_condition, filter_condition, start_key=start_key)
            yield from items
            if not start_key:
                return


def send_until_processed(send: Callable[..., Response], request_items: Request, unprocessed: str) -> list[Response]:
    """Send a batch request (`send`: BatchGetItem, BatchWriteItem) until DynamoDB has processed
    all of it. What a response hands back in `unprocessed` (UnprocessedKeys, UnprocessedItems) is
    sent again after a jittered exponential backoff, at most UNPROCESSED_RETRIES times; what is
    left after that raises UnprocessedItemsError. Returns every response, in order."""
    responses: list[Response] = []
    pending = request_items
    for attempt in range(UNPROCESSED_RETRIES + 1):
        if attempt:
            time.sleep(UNPROCESSED_BACKOFF_SECONDS * 2 ** (attempt - 1) * (0.5 + random.random()))  # noqa: S311
        response = send(RequestItems=pending)
        responses.append(response)
        pending = response.get(unprocessed) or {}
        if not pending:
            return responses
    # Per table, UnprocessedKeys holds {"Keys": [...], ...}, UnprocessedItems a list of requests.
    left = sum(len(table["Keys"]) if isinstance(table, dict) else len(table) for table in pending.values())
    raise UnprocessedItemsError(f"{left} requests still {unprocessed} after {UNPROCESSED_RETRIES} retries")


def _expression_fields(
    builder: ConditionExpressionBuilder, condition: ConditionBase, field: str, is_key: bool = False
) -> Request:
    built = builder.build_expression(condition, is_key_condition=is_key)
    fields: Request = {field: built.condition_expression}
    if built.attribute_name_placeholders:
        fields["ExpressionAttributeNames"] = built.attribute_name_placeholders
    if built.attribute_value_placeholders:
        fields["ExpressionAttributeValues"] = serialize(built.attribute_value_placeholders)
    return fields


def _merge(request: Request, fields: Request) -> None:
    for name, value in fields.items():
        if isinstance(value, dict):
            request.setdefault(name, {}).update(value)
        else:
            request[name] = value


def dynamodb_table(table_name: str) -> DynamoTable:
    """boto3 honours AWS_ENDPOINT_URL(_DYNAMODB), which the local stack sets."""
    client = boto3.client("dynamodb", region_name=os.environ.get("REGION"), config=CLIENT_CONFIG)
    return DynamoTable(drops_connections_on_restore(client), table_name)


@dataclass(frozen=True)
class CopyOf:
    """An update value taken from another attribute of the same item (`SET a = b`)."""

    attribute: str


@dataclass(frozen=True)
class Increment:
    """An update value that adds to the attribute's current value, from 0 if it has none
    (`SET a = if_not_exists(a, 0) + n`)."""

    by: int = 1


@dataclass(frozen=True)
class ListAppend:
    """An update value that appends to a list attribute, creating it if absent. DynamoDB
    applies it atomically, so concurrent appends never lose an element."""

    values: tuple[object, ...]


@dataclass(frozen=True)
class AddToSet:
    """An update that adds strings to a string-set attribute, creating it if absent (`ADD a :v`).
    Atomic, so it needs no read of the set first."""

    values: frozenset[str]


@dataclass(frozen=True)
class TransactPut:
    item: Mapping[str, object]
    condition: ConditionBase


@dataclass(frozen=True)
class TransactUpdate:
    key: Mapping[str, object]
    set_values: Mapping[str, object]
    remove: list[str]
    condition: ConditionBase


@dataclass(frozen=True)
class TransactDelete:
    """A delete in a transaction; without a condition, of an item that may be absent."""

    key: Mapping[str, object]
    condition: ConditionBase | None = None


@dataclass(frozen=True)
class TransactionResult:
    """`failed`: the index of each operation whose condition failed, with its current item."""

    succeeded: bool
    failed: dict[int, DynamoItem | None]


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a conditional write: the new item, or the current one if it lost."""

    succeeded: bool
    item: DynamoItem | None


def update_expression(
    set_values: Mapping[str, object], remove: list[str]
) -> tuple[str, dict[str, str], dict[str, object]]:
    """SET/REMOVE expression with its own placeholders (#u*, :u*), which cannot collide with
    the #n*/:v* that boto3 generates for condition objects."""
    names: dict[str, str] = {}
    values: dict[str, object] = {}

    def name(attribute: str) -> str:
        """A placeholder per path segment: `devices.d1` is the map entry d1 of devices."""
        parts = []
        for segment in attribute.split("."):
            placeholder = f"#u{len(names)}"
            names[placeholder] = segment
            parts.append(placeholder)
        return ".".join(parts)

    assignments, additions = [], []
    for attribute, value in set_values.items():
        if isinstance(value, AddToSet):
            placeholder = f":u{len(values)}"
            values[placeholder] = set(value.values)
            additions.append(f"{name(attribute)} {placeholder}")
        elif isinstance(value, CopyOf):
            assignments.append(f"{name(attribute)} = {name(value.attribute)}")
        elif isinstance(value, ListAppend):
            target, appended, empty = name(attribute), f":u{len(values)}", f":u{len(values) + 1}"
            values[appended], values[empty] = list(value.values), []
            assignments.append(f"{target} = list_append(if_not_exists({target}, {empty}), {appended})")
        elif isinstance(value, Increment):
            target, amount, zero = name(attribute), f":u{len(values)}", f":u{len(values) + 1}"
            values[amount], values[zero] = value.by, 0
            assignments.append(f"{target} = if_not_exists({target}, {zero}) + {amount}")
        else:
            placeholder = f":u{len(values)}"
            values[placeholder] = value
            assignments.append(f"{name(attribute)} = {placeholder}")
    clauses = []
    if assignments:
        clauses.append("SET " + ", ".join(assignments))
    removals = [name(attribute) for attribute in remove if attribute not in set_values]
    if removals:
        clauses.append("REMOVE " + ", ".join(removals))
    if additions:
        clauses.append("ADD " + ", ".join(additions))
    return " ".join(clauses), names, values


def conditional_update(
    table: DynamoTable,
    key: Mapping[str, object],
    set_values: Mapping[str, object],
    remove: list[str],
    condition: ConditionBase,
) -> WriteResult:
    try:
        return WriteResult(True, table.update_item(key, set_values, remove, condition))
    except ClientError as error:
        return WriteResult(False, _current_item_of(error))


THROTTLING_CODES = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})


@contextlib.contextmanager
def failures_as_api_errors(what: str) -> Iterator[None]:
    """DynamoDB's failures (after the SDK's own retries) as the API's errors, so that logic need
    not know botocore: a throttle is a 429 that the client retries later, anything else a 500."""
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code", "") in THROTTLING_CODES:
            raise RateLimitedError(f"{what} could not be stored now; try again later") from error
        raise ApiError(f"{what} could not be stored; try again later") from error


def conditional_put(table: DynamoTable, item: DynamoItem, condition: ConditionBase) -> WriteResult:
    try:
        table.put_item(item, condition)
    except ClientError as error:
        return WriteResult(False, _current_item_of(error))
    return WriteResult(True, item)


def conditional_delete(table: DynamoTable, key: Mapping[str, object], condition: ConditionBase) -> WriteResult:
    try:
        table.delete_item(key, condition)
    except ClientError as error:
        return WriteResult(False, _current_item_of(error))
    return WriteResult(True, None)


def _current_item_of(error: ClientError) -> DynamoItem | None:
    if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
        raise error
    # ALL_OLD puts the item into the error response, where botocore's stubs do not declare it.
    raw = cast("WireItem | None", error.response.get("Item"))
    return deserialize(raw) if raw else None
