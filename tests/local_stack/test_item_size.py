"""moto's item size check, made linear (local/emulation.py): the same items refused, at the same
limit, with the same error, for a put and for an update; and an item sized once, not once per
attribute it has."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

from local.emulation import make_dynamodb_items_linear_to_build

LIMIT = 405000  # moto's LimitedSizeDict, between DynamoDB's measured 409 and 410 KB


@pytest.fixture
def table():
    make_dynamodb_items_linear_to_build()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="sized",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def refused_by_moto_itself(item: dict) -> bool:
    """What moto's own check decides: each attribute added to a LimitedSizeDict, one by one."""
    attributes = LimitedSizeDict()
    try:
        for name, value in item.items():
            attributes[name] = DynamoType(value)
    except ItemSizeTooLarge:
        return True
    return False


def one_blob(length: int) -> dict:
    return {"PK": {"S": "a"}, "blob": {"S": "x" * length}}  # 2 + 1 + 4 + length bytes


def many_kinds(padding: int) -> dict:
    return {
        "PK": {"S": "é" * 3},  # two bytes each
        "amount": {"N": "12345.678"},
        "tags": {"SS": ["a", "bb", "ccc"]},
        "items": {"L": [{"M": {"description": {"S": "Milk"}, "quantity": {"N": "2"}}}]},
        "flag": {"BOOL": True},
        "notes": {"S": "n" * padding},
    }


@pytest.mark.parametrize(
    "item",
    [
        one_blob(LIMIT - 7),  # exactly at the limit
        one_blob(LIMIT - 6),  # one byte over
        many_kinds(LIMIT - 200),
        many_kinds(LIMIT - 60),
        many_kinds(LIMIT - 50),
        {"PK": {"S": "a"}, **{f"attribute{index:03}": {"S": "v" * 1400} for index in range(300)}},
        # Over the limit before a malformed value (an empty one, which boto3 lets through in a
        # map): refused for its size, as moto refuses it, which never reads the rest.
        {"PK": {"S": "a"}, "big": {"S": "x" * LIMIT}, "zz": {"M": {"q": {}}}},
    ],
    ids=[
        "at-the-limit",
        "one-byte-over",
        "mixed-under",
        "mixed-near",
        "mixed-over",
        "300-attributes-over",
        "over-then-malformed",
    ],
)
def test_a_put_is_refused_exactly_when_moto_s_own_check_refuses_it(table, item):
    try:
        table.put_item(TableName="sized", Item=item)
        refused = False
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ValidationException"
        assert "Item size has exceeded the maximum allowed size" in error.response["Error"]["Message"]
        refused = True

    assert refused is refused_by_moto_itself(item)
    stored = table.get_item(TableName="sized", Key={"PK": item["PK"]}).get("Item")
    assert (stored is None) is refused  # a refused put stores nothing


def test_an_update_that_grows_an_item_past_the_limit_is_still_refused(table):
    table.put_item(TableName="sized", Item=one_blob(LIMIT - 1000))

    with pytest.raises(ClientError, match="Item size to update has exceeded the maximum allowed size"):
        table.update_item(
            TableName="sized",
            Key={"PK": {"S": "a"}},
            UpdateExpression="SET more = :more",
            ExpressionAttributeValues={":more": {"S": "y" * 2000}},
        )
    assert "more" not in table.get_item(TableName="sized", Key={"PK": {"S": "a"}})["Item"]


def test_an_item_is_sized_once_not_once_per_attribute(table, monkeypatch):
    sized: list[int] = []
    size_of = DynamoType.size
    monkeypatch.setattr(DynamoType, "size", lambda value: sized.append(1) or size_of(value))
    attributes = 200

    table.put_item(
        TableName="sized", Item={"PK": {"S": "a"}, **{f"a{index}": {"S": "v"} for index in range(attributes)}}
    )

    # moto's own check sizes every attribute already added, for each one it adds: ~20,000 here.
    assert len(sized) <= 3 * attributes
