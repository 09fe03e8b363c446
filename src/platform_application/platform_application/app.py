"""CloudFormation custom resource for an SNS mobile push platform application (FCM or APNs).

CloudFormation has no native resource type for platform applications. The credentials (an FCM
service-account JSON, an APNs .p8 signing key) are SSM SecureString parameters read at deploy
time, so they never appear in the template, its parameters or the logs.

Every request is answered on its pre-signed ResponseURL, failures included; an unanswered
custom resource blocks the stack for an hour.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Required, TypedDict

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from receipt_vault import init_phase
from receipt_vault.dynamo import CLIENT_CONFIG
from receipt_vault.settings import RegionSettings, load_settings
from receipt_vault.shapes import JsonObject

settings = load_settings(RegionSettings)
logger = Logger()
sns = boto3.client("sns", region_name=settings.region, config=CLIENT_CONFIG)
ssm = boto3.client("ssm", region_name=settings.region, config=CLIENT_CONFIG)

PLATFORMS = {"GCM", "APNS", "APNS_SANDBOX"}
RESPONSE_TIMEOUT_SECONDS = 10


class CustomResourceEvent(TypedDict, total=False):
    """A CloudFormation custom resource request: the fields this function reads."""

    RequestType: Required[str]  # Create, Update or Delete
    ResponseURL: Required[str]
    StackId: Required[str]
    RequestId: Required[str]
    LogicalResourceId: Required[str]
    PhysicalResourceId: str
    ResourceProperties: JsonObject  # the template's properties: checked by application_attributes
    OldResourceProperties: JsonObject


class InvalidPropertiesError(ValueError):
    """The resource's properties in the template are wrong; the reason is safe to show."""


def application_attributes(properties: JsonObject) -> dict[str, str]:
    platform = properties.get("Platform")
    if platform not in PLATFORMS:
        raise InvalidPropertiesError(f"Platform must be one of {sorted(PLATFORMS)}")
    parameter = properties.get("CredentialParameterName")
    if not parameter:
        raise InvalidPropertiesError("CredentialParameterName is required")
    credential = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    attributes = {"PlatformCredential": credential}
    if platform != "GCM":  # APNs token-based authentication
        for attribute, prop in (
            ("PlatformPrincipal", "ApnsKeyId"),
            ("ApplePlatformTeamID", "ApnsTeamId"),
            ("ApplePlatformBundleID", "ApnsBundleId"),
        ):
            if not properties.get(prop):
                raise InvalidPropertiesError(f"{prop} is required for {platform}")
            attributes[attribute] = str(properties[prop])
    return attributes


def apply(event: CustomResourceEvent) -> str:
    """Carry out the request; return the application ARN (the physical resource id)."""
    properties = event.get("ResourceProperties", {})
    request_type = event["RequestType"]
    if request_type == "Delete":
        arn = event.get("PhysicalResourceId", "")
        if arn.startswith("arn:"):  # a failed create leaves no application behind
            sns.delete_platform_application(PlatformApplicationArn=arn)
        return arn
    attributes = application_attributes(properties)
    previous = event.get("OldResourceProperties", {})
    replaced = any(properties.get(k) != previous.get(k) for k in ("Name", "Platform"))
    if request_type == "Update" and not replaced:
        arn = event["PhysicalResourceId"]
        sns.set_platform_application_attributes(PlatformApplicationArn=arn, Attributes=attributes)
        return arn
    # Create, or an update that replaces: CloudFormation then deletes the old application.
    response = sns.create_platform_application(
        Name=properties["Name"], Platform=properties["Platform"], Attributes=attributes
    )
    return response["PlatformApplicationArn"]


def send_response(event: CustomResourceEvent, status: str, physical_id: str, reason: str = "") -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason or "See the function's log group",
            "PhysicalResourceId": physical_id or event.get("LogicalResourceId", "platform-application"),
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {"Arn": physical_id} if physical_id.startswith("arn:") else {},
        }
    ).encode("utf-8")
    url = event["ResponseURL"]
    if not url.startswith(("https://", "http://")):  # never file: or other schemes
        raise ValueError("ResponseURL must be an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_SECONDS):  # noqa: S310
        pass


@logger.inject_lambda_context
def lambda_handler(event: CustomResourceEvent, context: LambdaContext) -> None:
    logger.info(
        "custom resource request",
        extra={"request_type": event.get("RequestType"), "logical_id": event.get("LogicalResourceId")},
    )
    try:
        physical_id = apply(event)
    except InvalidPropertiesError as error:
        send_response(event, "FAILED", event.get("PhysicalResourceId", ""), str(error))
    except Exception as error:  # any failure must still be answered, without leaking secrets
        # The type only: an SNS error message may echo the credential it rejected.
        logger.error("platform application request failed", extra={"error": type(error).__name__})
        send_response(event, "FAILED", event.get("PhysicalResourceId", ""), type(error).__name__)
    else:
        send_response(event, "SUCCESS", physical_id)


init_phase.end()  # init is over: what it made is frozen, collecting resumes
