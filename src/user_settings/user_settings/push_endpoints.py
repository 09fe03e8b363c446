"""The SNS platform endpoints of push devices: every SNS call of the device registry.

SNS's answers that the registry acts on come back as return values: an endpoint that no
longer exists, a token already registered under another endpoint. Any other error of SNS
propagates unchanged (a 500, as before).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

_EXISTING_ENDPOINT = re.compile(r"Endpoint (arn:\S+) already exists")
NOT_FOUND_CODES = {"NotFound", "NotFoundException"}
INVALID_PARAMETER_CODES = {"InvalidParameter", "InvalidParameterException"}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class PushEndpoints:
    def __init__(self, sns: SNSClient) -> None:
        self.sns = sns

    def create(self, application_arn: str, token: str, owner: str) -> str:
        """The endpoint's ARN; when the token is registered already with other attributes, the
        existing endpoint's (CreatePlatformEndpoint names it)."""
        try:
            return self.sns.create_platform_endpoint(
                PlatformApplicationArn=application_arn, Token=token, CustomUserData=owner
            )["EndpointArn"]
        except ClientError as error:
            found = _EXISTING_ENDPOINT.search(str(error.response.get("Error", {}).get("Message", "")))
            if _error_code(error) not in INVALID_PARAMETER_CODES or not found:
                raise
            return found.group(1)

    def attributes(self, arn: str) -> dict[str, str] | None:
        """The endpoint's attributes, or None if it no longer exists."""
        try:
            return dict(self.sns.get_endpoint_attributes(EndpointArn=arn).get("Attributes") or {})
        except ClientError as error:
            if _error_code(error) in NOT_FOUND_CODES:
                return None
            raise

    def make_current(self, arn: str, token: str, owner: str, *, token_may_have_own_endpoint: bool = False) -> bool:
        """Give the endpoint this token, enabled, owned by `owner`. With token_may_have_own_endpoint,
        False when SNS refuses it as invalid (the token has its own endpoint); without, that error
        propagates like any other."""
        try:
            self.sns.set_endpoint_attributes(
                EndpointArn=arn, Attributes={"Token": token, "Enabled": "true", "CustomUserData": owner}
            )
        except ClientError as error:
            if not token_may_have_own_endpoint or _error_code(error) not in INVALID_PARAMETER_CODES:
                raise
            return False
        return True

    def delete(self, arn: str) -> None:
        self.sns.delete_endpoint(EndpointArn=arn)
