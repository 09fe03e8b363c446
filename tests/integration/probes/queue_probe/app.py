"""Probe: an SQS consumer that reports a poison message as a failed batch item."""

import json
import os

import boto3

dynamodb = boto3.client("dynamodb")


def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        if body.get("poison"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        dynamodb.put_item(
            TableName=os.environ["TABLE_NAME"],
            Item={"PK": {"S": "PROBE"}, "SK": {"S": f"MESSAGE#{body['id']}"}},
        )
    return {"batchItemFailures": failures}
