"""The SNS platform-application custom resource: every request is answered on its ResponseURL."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest

from tests.conftest import load_function
from tests.support.api_events import lambda_context

FCM_PARAMETER = "/receiptvault/test/fcm-service-account"
APNS_PARAMETER = "/receiptvault/test/apns-signing-key"
FCM_SECRET = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----secret"}'


class CloudFormationResponses:
    """A local stand-in for CloudFormation's pre-signed response URL."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/response"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def cloudformation():
    responses = CloudFormationResponses()
    yield responses
    responses.close()


@pytest.fixture
def provisioner(aws):
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=FCM_PARAMETER, Value=FCM_SECRET, Type="SecureString")
    ssm.put_parameter(Name=APNS_PARAMETER, Value="-----BEGIN PRIVATE KEY-----apns", Type="SecureString")
    return load_function("platform_application")


def request(cloudformation, request_type: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": cloudformation.url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/receiptvault-test/1",
        "RequestId": "request-1",
        "LogicalResourceId": "FcmPlatformApplication",
        "ResourceType": "Custom::SnsPlatformApplication",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:fn", **properties},
        **extra,
    }


FCM = {"Name": "receiptvault-test-fcm", "Platform": "GCM", "CredentialParameterName": FCM_PARAMETER}
APNS = {
    "Name": "receiptvault-test-apns",
    "Platform": "APNS_SANDBOX",
    "CredentialParameterName": APNS_PARAMETER,
    "ApnsKeyId": "ABCDE12345",
    "ApnsTeamId": "TEAM123456",
    "ApnsBundleId": "app.receiptvault.mobile",
}


def test_create_makes_the_application_and_reports_its_arn(provisioner, cloudformation):
    provisioner.lambda_handler(request(cloudformation, "Create", FCM), lambda_context())

    [response] = cloudformation.received
    assert response["Status"] == "SUCCESS"
    arn = response["PhysicalResourceId"]
    assert arn.startswith("arn:aws:sns:") and response["Data"] == {"Arn": arn}
    apps = boto3.client("sns").list_platform_applications()["PlatformApplications"]
    assert [app["PlatformApplicationArn"] for app in apps] == [arn]


def test_apns_uses_token_authentication_attributes(provisioner, cloudformation):
    provisioner.lambda_handler(request(cloudformation, "Create", APNS), lambda_context())

    arn = cloudformation.received[0]["PhysicalResourceId"]
    attributes = boto3.client("sns").get_platform_application_attributes(PlatformApplicationArn=arn)
    assert attributes["Attributes"]["PlatformPrincipal"] == "ABCDE12345"
    assert attributes["Attributes"]["ApplePlatformTeamID"] == "TEAM123456"


def create_then_update(provisioner, cloudformation, new_properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Create from FCM, then update to `new_properties`; the created ARN and the update's answer."""
    provisioner.lambda_handler(request(cloudformation, "Create", FCM), lambda_context())
    arn = cloudformation.received[0]["PhysicalResourceId"]
    update = request(cloudformation, "Update", new_properties, PhysicalResourceId=arn, OldResourceProperties=FCM)
    provisioner.lambda_handler(update, lambda_context())
    return arn, cloudformation.received[1]


def test_update_of_credentials_keeps_the_same_application(provisioner, cloudformation):
    arn, answer = create_then_update(provisioner, cloudformation, {**FCM, "CredentialsRevision": "2"})

    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == arn


def test_a_new_name_replaces_the_application(provisioner, cloudformation):
    arn, answer = create_then_update(provisioner, cloudformation, {**FCM, "Name": "receiptvault-test-fcm2"})

    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] != arn


def test_delete_removes_the_application(provisioner, cloudformation):
    provisioner.lambda_handler(request(cloudformation, "Create", FCM), lambda_context())
    arn = cloudformation.received[0]["PhysicalResourceId"]

    provisioner.lambda_handler(request(cloudformation, "Delete", FCM, PhysicalResourceId=arn), lambda_context())

    assert cloudformation.received[1]["Status"] == "SUCCESS"
    assert boto3.client("sns").list_platform_applications()["PlatformApplications"] == []


def test_delete_after_a_failed_create_succeeds_without_touching_sns(provisioner, cloudformation):
    provisioner.lambda_handler(
        request(cloudformation, "Delete", FCM, PhysicalResourceId="FcmPlatformApplication"), lambda_context()
    )

    assert cloudformation.received[0]["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    "properties",
    [
        {**FCM, "Platform": "ADM"},
        {**FCM, "CredentialParameterName": ""},
        {**APNS, "ApnsKeyId": ""},
    ],
)
def test_invalid_properties_fail_the_resource_with_a_reason(provisioner, cloudformation, properties):
    provisioner.lambda_handler(request(cloudformation, "Create", properties), lambda_context())

    [response] = cloudformation.received
    assert response["Status"] == "FAILED" and response["Reason"]


def test_a_failure_is_still_answered_and_never_leaks_the_credential(provisioner, cloudformation, monkeypatch):
    def reject(**_: Any) -> None:
        raise RuntimeError(f"rejected credential {FCM_SECRET}")

    monkeypatch.setattr(provisioner.sns, "create_platform_application", reject)
    logs = io.StringIO()
    provisioner.logger.registered_handler.setStream(logs)

    provisioner.lambda_handler(request(cloudformation, "Create", FCM), lambda_context())

    [response] = cloudformation.received
    assert response["Status"] == "FAILED"
    assert "secret" not in json.dumps(response) and "PRIVATE KEY" not in json.dumps(response)
    assert "RuntimeError" in logs.getvalue() and "PRIVATE KEY" not in logs.getvalue()
