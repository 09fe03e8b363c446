"""Facts about resources that authorisation depends on, read with unchecked clients.

A request names a table, a bucket or a key alias; what IAM decides on may be the table's
partition key, the bucket's default encryption key or the key's ARN. Those facts are asked of
the emulation itself (in-process moto, or the local stack's moto server through
AWS_ENDPOINT_URL), outside any guard, and cached for the life of one `Lookups`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeAlias, TypeVar, cast

import boto3
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

T = TypeVar("T")
# The answer of an operation named at run time (`Lookups.call`): shaped as that operation's API
# documents it, and read by key where it is asked for.
AwsResponse: TypeAlias = dict[str, Any]

# True while a look-up runs: the guard lets those calls through unchecked.
UNCHECKED: ContextVar[bool] = ContextVar("local_iam_unchecked", default=False)

_clients: dict[tuple[str, str, str | None], BaseClient] = {}
_clients_lock = threading.Lock()


@contextmanager
def unchecked() -> Iterator[None]:
    token = UNCHECKED.set(True)
    try:
        yield
    finally:
        UNCHECKED.reset(token)


def _client(service: str, region: str) -> BaseClient:
    key = (service, region, os.environ.get("AWS_ENDPOINT_URL"))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = boto3.client(service, region_name=region)  # type: ignore[call-overload]  # named at run time
        return _clients[key]


class Lookups:
    def __init__(self, region: str, account_id: str) -> None:
        self.region = region
        self.account_id = account_id
        self._cache: dict[tuple[str, ...], object] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, ...], compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._cache:
                return cast(T, self._cache[key])
        with unchecked():
            value = compute()
        with self._lock:
            self._cache[key] = value
        return value

    def call(self, service: str, operation: str, **params: object) -> AwsResponse | None:
        """One unchecked call; None when the resource does not exist (or any error)."""
        try:
            with unchecked():
                response: AwsResponse = getattr(_client(service, self.region), operation)(**params)
                return response
        except (ClientError, BotoCoreError):
            return None

    # -- DynamoDB ------------------------------------------------------------------------------------

    def partition_keys(self, table: str) -> dict[str | None, str] | None:
        """The partition key attribute of the table (None) and of each of its indexes."""

        def compute() -> dict[str | None, str] | None:
            described = self.call("dynamodb", "describe_table", TableName=table)
            if described is None:
                return None
            description = described["Table"]

            def hash_key(schema: list[dict[str, str]]) -> str:
                return next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")

            keys: dict[str | None, str] = {None: hash_key(description["KeySchema"])}
            for index in [
                *description.get("GlobalSecondaryIndexes", []),
                *description.get("LocalSecondaryIndexes", []),
            ]:
                keys[index["IndexName"]] = hash_key(index["KeySchema"])
            return keys

        return self._cached(("table", table), compute)

    # -- S3 ------------------------------------------------------------------------------------------

    def bucket_default_key(self, bucket: str) -> tuple[str | None, bool]:
        """(KMS key id or ARN of the bucket's default SSE-KMS encryption, bucket key enabled);
        (None, False) when the default is not SSE-KMS or there is no such bucket."""

        def compute() -> tuple[str | None, bool]:
            response = self.call("s3", "get_bucket_encryption", Bucket=bucket)
            for rule in (response or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", []):
                default = rule.get("ApplyServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm", "").startswith("aws:kms"):
                    return default.get("KMSMasterKeyID") or "alias/aws/s3", bool(rule.get("BucketKeyEnabled"))
            return None, False

        return self._cached(("bucket", bucket), compute)

    def object_key(self, bucket: str, key: str, version: str | None) -> tuple[str | None, bool]:
        """(KMS key of an existing SSE-KMS object, bucket key enabled); (None, False) for an
        object that is missing or not SSE-KMS. Not cached: objects come and go."""
        params = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        head = self.call("s3", "head_object", **params)
        if head is None or not str(head.get("ServerSideEncryption", "")).startswith("aws:kms"):
            return None, False
        return head.get("SSEKMSKeyId") or "alias/aws/s3", bool(head.get("BucketKeyEnabled"))

    # -- KMS -----------------------------------------------------------------------------------------

    def key(self, key_id: str) -> tuple[str, bool]:
        """(key ARN, customer managed) for a key id, key ARN, alias name or alias ARN. An unknown
        key is named as asked, as a key ARN, and taken as customer managed."""

        def compute() -> tuple[str, bool]:
            described = self.call("kms", "describe_key", KeyId=key_id)
            if described is None:
                if key_id.startswith("arn:"):
                    return key_id, not key_id.split(":", 5)[-1].startswith("alias/aws/")
                if key_id.startswith("alias/"):
                    arn = f"arn:aws:kms:{self.region}:{self.account_id}:{key_id}"
                    return arn, not key_id.startswith("alias/aws/")
                return f"arn:aws:kms:{self.region}:{self.account_id}:key/{key_id}", True
            metadata = described["KeyMetadata"]
            aws_alias = key_id.split(":", 5)[-1].startswith("alias/aws/")  # moto reports these as CUSTOMER
            return metadata["Arn"], metadata.get("KeyManager", "CUSTOMER") == "CUSTOMER" and not aws_alias

        return self._cached(("kms", key_id), compute)

    def ciphertext_key(self, blob: bytes) -> str | None:
        """The key a ciphertext was made with, as KMS reports it when decrypting it."""
        decrypted = self.call("kms", "decrypt", CiphertextBlob=blob)
        return None if decrypted is None else decrypted.get("KeyId")

    # -- Secrets Manager, SSM ------------------------------------------------------------------------

    def secret(self, secret_id: str) -> tuple[str, str | None]:
        """(full ARN, its KMS key or None for aws/secretsmanager). A secret that does not exist
        is named by a partial ARN, which no policy naming the real secret matches."""

        def compute() -> tuple[str, str | None]:
            described = self.call("secretsmanager", "describe_secret", SecretId=secret_id)
            if described is None:
                arn = secret_id if secret_id.startswith("arn:") else None
                return arn or f"arn:aws:secretsmanager:{self.region}:{self.account_id}:secret:{secret_id}", None
            return described["ARN"], described.get("KmsKeyId")

        return self._cached(("secret", secret_id), compute)

    def parameter_key(self, name: str) -> str | None:
        """The KMS key of a SecureString parameter, None for any other or a missing one."""
        response = self.call(
            "ssm", "describe_parameters", ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
        )
        for parameter in (response or {}).get("Parameters", []):
            if parameter.get("Type") == "SecureString":
                return str(parameter.get("KeyId") or "alias/aws/ssm")
        return None
