"""moto's table Query made to cost its partition, not the table (local.emulation): every answer,
page and order stays what moto gave before the patch."""

from __future__ import annotations

import random

import boto3
from moto import mock_aws
from moto.dynamodb.models.table import Table

from local.emulation import MOTO_TABLE_ORIGINALS, make_dynamodb_queries_read_one_partition

QUERIES = [
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "USER#a"}}},
    {
        "KeyConditionExpression": "PK = :p AND begins_with(SK, :s)",
        "ExpressionAttributeValues": {":p": {"S": "USER#a"}, ":s": {"S": "DUP#"}},
        "Limit": 7,
    },
    {
        "KeyConditionExpression": "PK = :p AND SK BETWEEN :x AND :y",
        "ExpressionAttributeValues": {":p": {"S": "USER#b"}, ":x": {"S": "RECEIPT#1"}, ":y": {"S": "RECEIPT#5"}},
        "ScanIndexForward": False,
        "Limit": 3,
    },
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "USER#nobody"}}},
    {
        "IndexName": "ByUpdated",
        "KeyConditionExpression": "PK = :p AND byUpdatedSK > :t",
        "ExpressionAttributeValues": {":p": {"S": "USER#a"}, ":t": {"S": "2026-05"}},
        "Limit": 4,
    },
]


def _all_pages(client, query: dict) -> list[list[dict]]:
    pages, start = [], None
    while True:
        page = client.query(TableName="t", **query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append([page["Items"], page.get("LastEvaluatedKey"), page["Count"], page["ScannedCount"]])
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


def _answers() -> list[list[list[dict]]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("PK", "SK", "byUpdatedSK")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByUpdated",
                    "KeySchema": [
                        {"AttributeName": "PK", "KeyType": "HASH"},
                        {"AttributeName": "byUpdatedSK", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        shuffled = random.Random(7)
        rows = [(user, f"{kind}#{n}") for user in "abc" for kind in ("DUP", "RECEIPT") for n in range(12)]
        shuffled.shuffle(rows)
        for user, sort_key in rows:
            client.put_item(
                TableName="t",
                Item={
                    "PK": {"S": f"USER#{user}"},
                    "SK": {"S": sort_key},
                    "byUpdatedSK": {"S": f"2026-{shuffled.randint(1, 12):02d}#{sort_key}"},
                },
            )
        return [_all_pages(client, query) for query in QUERIES]


def test_every_query_answers_page_for_page_as_moto_did_before_the_patch(monkeypatch):
    make_dynamodb_queries_read_one_partition()
    after = _answers()
    monkeypatch.setattr(Table, "query", MOTO_TABLE_ORIGINALS["query"])  # moto as it comes
    monkeypatch.setattr(Table, "all_items", MOTO_TABLE_ORIGINALS["all_items"])

    assert _answers() == after


def test_a_table_query_never_reads_the_other_partitions(monkeypatch):
    make_dynamodb_queries_read_one_partition()
    whole_table_reads: list[int] = []
    original = MOTO_TABLE_ORIGINALS["all_items"]

    def counting(table):
        items = original(table)
        whole_table_reads.append(len(items))
        return items

    monkeypatch.setitem(MOTO_TABLE_ORIGINALS, "all_items", counting)
    answers = _answers()

    assert answers[0][0][2] == 24  # user a's 24 items, in one page
    # Only the index query (QUERIES[4]) still reads the whole table, once a page, as moto does.
    assert whole_table_reads == [72] * len(answers[4])
