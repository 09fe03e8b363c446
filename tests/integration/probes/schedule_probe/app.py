"""Probe: a scheduled function that records the event it was given."""

import os

import boto3

dynamodb = boto3.client("dynamodb")


def lambda_handler(event, context):
    dynamodb.put_item(
        TableName=os.environ["TABLE_NAME"],
        Item={"PK": {"S": "PROBE"}, "SK": {"S": f"SCHEDULE#{event['id']}"}, "source": {"S": event["source"]}},
    )
    return {"detailType": event["detail-type"], "function": context.function_name}
