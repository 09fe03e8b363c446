"""Push delivery: every device gets its platform's body; a dead endpoint is removed, the rest go on."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from receipt_vault.dynamo import DynamoTable
from receipt_vault.erasure import ErasedAccounts
from receipt_vault.push import Notification, PushSender
from receipt_vault.push_gateway import PushGateway
from receipt_vault.settings_store import SettingsStore
from tests.conftest import TABLE_NAME

NOTIFICATION = Notification("Receipt refined", "MediaMarkt: 129.99 EUR", {"receiptId": "r1", "type": "refined"})


class RecordingSns:
    """The real (moto) SNS client, with every publish recorded."""

    def __init__(self) -> None:
        self.client = boto3.client("sns")
        self.published: list[dict[str, Any]] = []

    def publish(self, **request: Any) -> dict[str, Any]:
        response = self.client.publish(**request)
        self.published.append(request)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def devices(table) -> dict[str, str]:
    sns = boto3.client("sns")
    android = sns.create_platform_application(
        Name="receiptvault-test-fcm", Platform="GCM", Attributes={"PlatformCredential": "k"}
    )["PlatformApplicationArn"]
    ios = sns.create_platform_application(
        Name="receiptvault-test-apns",
        Platform="APNS_SANDBOX",
        Attributes={"PlatformCredential": "k", "PlatformPrincipal": "p"},
    )
    endpoints = {
        str(uuid.uuid4()): ("android", sns.create_platform_endpoint(PlatformApplicationArn=android, Token="t-android")),
        str(uuid.uuid4()): (
            "ios",
            sns.create_platform_endpoint(PlatformApplicationArn=ios["PlatformApplicationArn"], Token="t-ios"),
        ),
    }
    table.put_item(
        Item={
            "PK": "USER#user-a",
            "SK": "META#SETTINGS",
            "devices": {
                device_id: {"platform": platform, "endpointArn": endpoint["EndpointArn"]}
                for device_id, (platform, endpoint) in endpoints.items()
            },
        }
    )
    return {device_id: endpoint["EndpointArn"] for device_id, (_, endpoint) in endpoints.items()}


def sender(sns: Any) -> PushSender:
    table = DynamoTable(boto3.client("dynamodb"), TABLE_NAME)
    return PushSender(PushGateway(sns), SettingsStore(table), ErasedAccounts(table), logging.getLogger("test"))


def test_every_device_gets_one_json_message_with_both_platform_bodies(devices):
    sns = RecordingSns()

    report = sender(sns).send("user-a", NOTIFICATION)

    assert report.sent == 2 and report.removed == []
    assert sorted(request["TargetArn"] for request in sns.published) == sorted(devices.values())
    message = json.loads(sns.published[0]["Message"])
    assert sns.published[0]["MessageStructure"] == "json"
    assert json.loads(message["GCM"]) == {
        "notification": {"title": "Receipt refined", "body": "MediaMarkt: 129.99 EUR"},
        "data": {"receiptId": "r1", "type": "refined"},
    }
    apns = json.loads(message["APNS"])
    assert apns["aps"]["alert"]["title"] == "Receipt refined" and apns["receiptId"] == "r1"


def test_a_disabled_endpoint_is_removed_and_the_next_device_still_gets_its_push(devices, table):
    disabled_id, disabled_arn = next(iter(devices.items()))
    boto3.client("sns").set_endpoint_attributes(EndpointArn=disabled_arn, Attributes={"Enabled": "false"})
    sns = RecordingSns()

    report = sender(sns).send("user-a", NOTIFICATION)

    assert report.sent == 1 and report.removed == [disabled_id]
    remaining = table.get_item(Key={"PK": "USER#user-a", "SK": "META#SETTINGS"})["Item"]["devices"]
    assert disabled_id not in remaining and len(remaining) == 1


def test_another_failure_is_counted_and_the_send_goes_on(devices):
    sns = RecordingSns()
    calls = []

    def flaky_publish(**request: Any) -> dict[str, Any]:
        calls.append(request)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "Publish")
        return sns.client.publish(**request)

    sns.publish = flaky_publish  # type: ignore[method-assign]

    report = sender(sns).send("user-a", NOTIFICATION)

    assert (report.sent, report.failed, report.removed) == (1, 1, [])


def test_a_user_without_devices_gets_nothing(table):
    assert sender(RecordingSns()).send("user-z", NOTIFICATION).sent == 0
