"""Probe: an S3 ObjectCreated consumer that records the keys it was given."""

import os

import boto3

dynamodb = boto3.client("dynamodb")


def lambda_handler(event, context):
    for record in event["Records"]:
        dynamodb.put_item(
            TableName=os.environ["TABLE_NAME"],
            Item={
                "PK": {"S": "PROBE"},
                "SK": {"S": f"OBJECT#{record['s3']['object']['key']}"},
                "event": {"S": record["eventName"]},
                "bucket": {"S": record["s3"]["bucket"]["name"]},
            },
        )
