"""boto3 clients created on first use: for services only some invocations call.

Every lazily created client is made here, with the project's timeouts and retries
(`receipt_vault.dynamo.CLIENT_CONFIG`): `lazy_client` for a service, `lazy_table` for a table.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

from receipt_vault.dynamo import CLIENT_CONFIG, DynamoTable
from receipt_vault.snapstart import drops_connections_on_restore

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_textract import TextractClient


class LazyClient:
    """Creates the client on the first use of any of its attributes, then keeps it."""

    def __init__(self, factory: Callable[[], object]) -> None:
        self._create = functools.cache(factory)

    @property
    def created(self) -> bool:
        """Whether the client exists yet: False until something has used it."""
        return self._create.cache_info().currsize > 0

    def instance(self) -> object:
        """The client itself, created now if it is not yet: what a stub of its requests replaces."""
        return self._create()

    def __getattr__(self, name: str) -> object:
        return getattr(self._create(), name)


# Typed as the client it stands for, as it forwards every attribute to that client: one overload
# per service a function creates lazily.
@overload
def lazy_client(service: Literal["cloudfront"], region: str | None, config: Config = ...) -> CloudFrontClient: ...
@overload
def lazy_client(
    service: Literal["cognito-idp"], region: str | None, config: Config = ...
) -> CognitoIdentityProviderClient: ...
@overload
def lazy_client(service: Literal["dynamodb"], region: str | None, config: Config = ...) -> DynamoDBClient: ...
@overload
def lazy_client(service: Literal["s3"], region: str | None, config: Config = ...) -> S3Client: ...
@overload
def lazy_client(
    service: Literal["secretsmanager"], region: str | None, config: Config = ...
) -> SecretsManagerClient: ...
@overload
def lazy_client(service: Literal["sns"], region: str | None, config: Config = ...) -> SNSClient: ...
@overload
def lazy_client(service: Literal["sqs"], region: str | None, config: Config = ...) -> SQSClient: ...
@overload
def lazy_client(service: Literal["textract"], region: str | None, config: Config = ...) -> TextractClient: ...
def lazy_client(service: str, region: str | None, config: Config = CLIENT_CONFIG) -> object:
    """A client of `service` in `region` (a function's `settings.region`), created on first use."""
    # The service is a plain str here; the overloads above give each call its client's type.
    return LazyClient(lambda: new_client(service, region, config))


def new_client(service: str, region: str | None, config: Config = CLIENT_CONFIG) -> Any:
    """A client created now, whose pooled connections a SnapStart restore drops (`snapstart`)."""
    # The service is a plain str here; callers annotate the client type they asked for.
    return drops_connections_on_restore(boto3.client(service, region_name=region, config=config))  # type: ignore[call-overload]


def lazy_table(table_name: str) -> DynamoTable:
    """`dynamo.dynamodb_table` with a client of its own, created on first use."""
    return DynamoTable(lazy_client("dynamodb", os.environ.get("REGION")), table_name)
