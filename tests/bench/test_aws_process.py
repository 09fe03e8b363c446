"""bench/aws_process.py, the sync benchmark's DynamoDB: moto in a process of its own, with the
tests' DynamoDB patches, DynamoDB on an endpoint that keeps connections open."""

from __future__ import annotations

import http.client
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from bench.aws_process import aws_in_another_process


def test_dynamodb_answers_from_another_process_on_one_kept_connection():
    with aws_in_another_process() as endpoints:
        assert set(endpoints) == {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"}
        client = _table(endpoints, "bench-smoke")
        client.put_item(TableName="bench-smoke", Item={"PK": {"S": "a"}, "v": {"N": "1"}})

        # Not this process's moto: nothing here holds the table.
        assert "bench-smoke" not in _tables_in_this_process()
        # Two requests, one connection: the server keeps it open, as DynamoDB does for botocore.
        connection = http.client.HTTPConnection(endpoints["AWS_ENDPOINT_URL_DYNAMODB"].removeprefix("http://"))
        for _ in range(2):
            connection.request("POST", "/", body=json.dumps({"TableName": "bench-smoke"}), headers=_headers("Scan"))
            answer = connection.getresponse()
            assert answer.status == 200 and json.loads(answer.read())["Count"] == 1
            assert not answer.will_close
        connection.close()


def test_the_server_refuses_an_item_past_the_limit_as_the_tests_emulation_does():
    with aws_in_another_process() as endpoints:
        client = _table(endpoints, "bench-limit")

        with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
            client.put_item(TableName="bench-limit", Item={"PK": {"S": "a"}, "blob": {"S": "x" * 406_000}})


def _table(endpoints: dict[str, str], name: str):
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoints["AWS_ENDPOINT_URL_DYNAMODB"],
        region_name="eu-west-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def _tables_in_this_process() -> list[str]:
    from moto.dynamodb.models import dynamodb_backends

    return [name for account in dynamodb_backends.values() for backend in account.values() for name in backend.tables]


def _headers(operation: str) -> dict[str, str]:
    return {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{operation}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/eu-west-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
