"""The emulation as strict as AWS where the tests rely on it: DynamoDB requests are atomic."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from local.emulation import make_dynamodb_requests_atomic


def test_of_writers_racing_on_one_version_exactly_one_wins_every_time():
    make_dynamodb_requests_atomic()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for _ in range(15):
            client.put_item(TableName="t", Item={"PK": {"S": "a"}, "v": {"N": "1"}})
            outcomes = _race(client, writers=12, readers=4)

            assert outcomes.count("won") == 1 and outcomes.count("read") == 4


def _race(client, writers: int, readers: int) -> list[str]:
    """Writers update at version 1 while readers BatchGet the item, all released at once."""
    barrier = threading.Barrier(writers + readers)

    def one(index: int) -> str:
        barrier.wait()
        if index >= writers:
            found = client.batch_get_item(RequestItems={"t": {"Keys": [{"PK": {"S": "a"}}]}})["Responses"]["t"]
            return "read" if len(found) == 1 else "lost"
        try:
            client.update_item(
                TableName="t",
                Key={"PK": {"S": "a"}},
                UpdateExpression="SET v = :next, w = :w",
                ConditionExpression="v = :base",
                ExpressionAttributeValues={":next": {"N": "2"}, ":base": {"N": "1"}, ":w": {"N": str(index)}},
            )
            return "won"
        except ClientError:
            return "refused"

    with ThreadPoolExecutor(writers + readers) as pool:
        return list(pool.map(one, range(writers + readers)))


def test_a_cancelled_transaction_leaves_the_stream_readable_and_without_its_writes():
    from local.emulation import make_dynamodb_streams_faithful

    make_dynamodb_streams_faithful()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        arn = client.create_table(
            TableName="s",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )["TableDescription"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams", region_name="eu-west-1")
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        client.put_item(TableName="s", Item={"PK": {"S": "a"}})
        try:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "s", "Item": {"PK": {"S": "b"}}}},
                    {
                        "Put": {
                            "TableName": "s",
                            "Item": {"PK": {"S": "a"}},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                ]
            )
        except ClientError as error:
            assert error.response["Error"]["Code"] == "TransactionCanceledException"
        client.put_item(TableName="s", Item={"PK": {"S": "c"}})

        read = streams.get_records(ShardIterator=iterator)
        # The first put and the last, read through the iterator taken before; nothing of "b".
        assert [record["dynamodb"]["Keys"]["PK"]["S"] for record in read["Records"]] == ["a", "c"]
