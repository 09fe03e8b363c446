"""Opaque, tamper-evident page tokens bound to one user and one set of filters.

A token carries DynamoDB's LastEvaluatedKey and an HMAC-SHA256 over the key, the caller's user
id and the filters of the listing. A token that was edited, that belongs to another user, or
that is replayed with other filters fails verification and is a 400, never a 500. Nobody can
page through another user's partition by forging a key.

The HMAC key lives in Secrets Manager and is read once per container, on first use, so that
cold starts do not pay for it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from receipt_vault.errors import BadRequestError
from receipt_vault.shapes import DynamoItem
from receipt_vault.snapstart import on_restore

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

TOKEN_VERSION = "v1"  # noqa: S105 (a format version, not a secret)
MAX_TOKEN_LENGTH = 2048
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class PageTokenCodec:
    def __init__(self, signing_key: Callable[[], bytes]) -> None:
        self._signing_key = signing_key

    def encode(self, last_key: Mapping[str, object], user_id: str, scope: Mapping[str, object]) -> str:
        payload = _b64encode(_canonical(dict(last_key)).encode("utf-8"))
        return f"{payload}.{self._sign(payload, user_id, scope)}"

    def decode(self, token: str, user_id: str, scope: Mapping[str, object], name: str = "nextToken") -> DynamoItem:
        """The position a token names; `name` is the request's parameter, for the 400's message."""
        invalid = BadRequestError(f"{name} is invalid for this request")
        # Tokens are two base64url parts: anything else (non-ASCII text included, which
        # hmac.compare_digest refuses to compare) is not a token of ours.
        if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_SHAPE.fullmatch(token):
            raise invalid
        payload, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(payload, user_id, scope)):
            raise invalid
        try:
            last_key = json.loads(_b64decode(payload))
        except (binascii.Error, ValueError):
            raise invalid from None
        if not isinstance(last_key, dict):
            raise invalid
        return last_key

    def _sign(self, payload: str, user_id: str, scope: Mapping[str, object]) -> str:
        message = "|".join((TOKEN_VERSION, user_id, _canonical(dict(scope)), payload))
        digest = hmac.new(self._signing_key(), message.encode("utf-8"), hashlib.sha256).digest()
        return _b64encode(digest)


def secrets_manager_signing_key(secret_arn: str, client: SecretsManagerClient) -> Callable[[], bytes]:
    """A lazily fetched, cached signing key from a Secrets Manager secret string."""

    @functools.cache
    def signing_key() -> bytes:
        secret = client.get_secret_value(SecretId=secret_arn)["SecretString"]
        return secret.encode("utf-8")

    on_restore(signing_key.cache_clear)  # a snapshot may be older than the secret's last rotation
    return signing_key


def page_tokens_from_secret(secret_arn: str, region: str) -> PageTokenCodec:
    """The codec of every API function that pages: signed with the stack's pagination secret."""
    from receipt_vault.clients import lazy_client

    return PageTokenCodec(secrets_manager_signing_key(secret_arn, lazy_client("secretsmanager", region)))
