"""Small DynamoDB helpers shared by the data-access modules.

Conditional writes ask for `ReturnValuesOnConditionCheckFailure=ALL_OLD`. When a write loses
a race, the caller gets the current item from the failed write itself and can answer 409 with
it, without a second read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.conditions import ConditionBase
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import ClientError

_deserializer = TypeDeserializer()

# Fail fast and let the client retry: API Gateway gives a request 29 s at most.
CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


def dynamodb_table(table_name: str) -> Any:
    """A Table resource. boto3 honours AWS_ENDPOINT_URL(_DYNAMODB) for local emulation."""
    resource = boto3.resource("dynamodb", region_name=os.environ.get("REGION"), config=CLIENT_CONFIG)
    return resource.Table(table_name)


@dataclass(frozen=True)
class CopyOf:
    """An update value taken from another attribute of the same item (`SET a = b`)."""

    attribute: str


@dataclass(frozen=True)
class Increment:
    """An update value that adds to the attribute's current value (`SET a = a + n`)."""

    by: int = 1


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a conditional write: the new item, or the current one if it lost."""

    succeeded: bool
    item: dict[str, Any] | None


def update_expression(
    set_values: dict[str, Any], remove: list[str]
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """SET/REMOVE expression with its own placeholders (#u*, :u*), which cannot collide with
    the #n*/:v* that boto3 generates for condition objects."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}

    def name(attribute: str) -> str:
        placeholder = f"#u{len(names)}"
        names[placeholder] = attribute
        return placeholder

    assignments = []
    for attribute, value in set_values.items():
        if isinstance(value, CopyOf):
            assignments.append(f"{name(attribute)} = {name(value.attribute)}")
        elif isinstance(value, Increment):
            target, amount = name(attribute), f":u{len(values)}"
            values[amount] = value.by
            assignments.append(f"{target} = {target} + {amount}")
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
    return " ".join(clauses), names, values


def conditional_update(
    table: Any,
    key: dict[str, str],
    set_values: dict[str, Any],
    remove: list[str],
    condition: ConditionBase,
) -> WriteResult:
    expression, names, values = update_expression(set_values, remove)
    request: dict[str, Any] = {
        "Key": key,
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ConditionExpression": condition,
        "ReturnValues": "ALL_NEW",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if values:
        request["ExpressionAttributeValues"] = values
    try:
        return WriteResult(True, table.update_item(**request)["Attributes"])
    except ClientError as error:
        return WriteResult(False, _current_item_of(error))


def conditional_put(table: Any, item: dict[str, Any], condition: ConditionBase) -> WriteResult:
    try:
        table.put_item(
            Item=item, ConditionExpression=condition, ReturnValuesOnConditionCheckFailure="ALL_OLD"
        )
    except ClientError as error:
        return WriteResult(False, _current_item_of(error))
    return WriteResult(True, item)


def _current_item_of(error: ClientError) -> dict[str, Any] | None:
    if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
        raise error
    raw = error.response.get("Item")
    return {name: _deserializer.deserialize(value) for name, value in raw.items()} if raw else None
