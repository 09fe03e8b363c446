"""SNS, as push delivery needs it: every SNS call of `receipt_vault.push`.

SNS's answer comes back as a `Delivery`, never as botocore's error: an endpoint that SNS
reports disabled or gone (the app was uninstalled, the token expired) is `gone`, any other
refusal is a failed delivery with SNS's error code.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

GONE_ENDPOINT_CODES = {
    "EndpointDisabled",
    "EndpointDisabledException",
    "NotFound",
    "NotFoundException",
    "InvalidParameter",
    "InvalidParameterException",
}


@dataclass(frozen=True)
class Delivery:
    sent: bool
    gone: bool = False  # the endpoint will never take a push again: forget the device
    error: str = ""  # SNS's error code, when not sent


class PushGateway:
    def __init__(self, sns: SNSClient) -> None:
        self.sns = sns

    def publish(self, endpoint_arn: str, message: str) -> Delivery:
        """One `MessageStructure=json` publish to one endpoint."""
        try:
            self.sns.publish(TargetArn=endpoint_arn, Message=message, MessageStructure="json")
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            return Delivery(sent=False, gone=code in GONE_ENDPOINT_CODES, error=code)
        return Delivery(sent=True)

    def delete_endpoint(self, endpoint_arn: str) -> None:
        with contextlib.suppress(ClientError):  # already gone is fine
            self.sns.delete_endpoint(EndpointArn=endpoint_arn)
