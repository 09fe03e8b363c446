"""SNS mobile push in moto: platform applications, devices, and the messages they received."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

REGION = "eu-west-1"


def platform_applications() -> dict[str, str]:
    """The stack's two platform applications, as the custom resource creates them."""
    sns = boto3.client("sns")
    gcm = sns.create_platform_application(
        Name="receiptvault-test-fcm", Platform="GCM", Attributes={"PlatformCredential": "k"}
    )["PlatformApplicationArn"]
    apns = sns.create_platform_application(
        Name="receiptvault-test-apns", Platform="APNS", Attributes={"PlatformCredential": "k", "PlatformPrincipal": "p"}
    )["PlatformApplicationArn"]
    return {"android": gcm, "ios": apns}


def add_device(table: Any, applications: dict[str, str], user: str, platform: str = "android") -> tuple[str, str]:
    """A registered device, written as device registration stores it: (deviceId, endpointArn)."""
    token = f"token-{user}-{uuid.uuid4().hex}"
    arn = boto3.client("sns").create_platform_endpoint(
        PlatformApplicationArn=applications[platform], Token=token, CustomUserData=user
    )["EndpointArn"]
    device_id = str(uuid.uuid4())
    device = {
        "platform": platform,
        "endpointArn": arn,
        "tokenHash": uuid.uuid4().hex,
        "registeredAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
    }
    key = {"PK": f"USER#{user}", "SK": "META#SETTINGS"}
    existing = table.get_item(Key=key).get("Item")
    if existing is None:
        table.put_item(Item={**key, "devices": {device_id: device}})
    else:
        table.update_item(
            Key=key,
            UpdateExpression="SET devices.#d = :d",
            ExpressionAttributeNames={"#d": device_id},
            ExpressionAttributeValues={":d": device},
        )
    return device_id, arn


def disable(endpoint_arn: str) -> None:
    boto3.client("sns").set_endpoint_attributes(EndpointArn=endpoint_arn, Attributes={"Enabled": "false"})


def endpoint(endpoint_arn: str) -> Any:
    return sns_backends[DEFAULT_ACCOUNT_ID][REGION].platform_endpoints.get(endpoint_arn)


def pushes(endpoint_arn: str) -> list[dict[str, Any]]:
    """The messages an endpoint received, each as its GCM body (title, body, data)."""
    found = endpoint(endpoint_arn)
    if found is None:
        return []
    return [json.loads(json.loads(message)["GCM"]) for message in found.messages.values()]
