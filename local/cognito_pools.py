"""moto's user pools as the Cognito patches find them, and the errors Amazon Cognito answers with.

The public user pool operations (SignUp, InitiateAuth, GlobalSignOut, ...) reach moto unsigned,
as Amplify sends them, so the request names no region: each one is found here through what it
does name (the app client, a token), in whichever account and region holds it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpUser,
    CognitoIdpUserPool,
    CognitoIdpUserPoolClient,
    cognitoidp_backends,
)
from moto.core.exceptions import JsonRESTError

INCORRECT_CREDENTIALS = "Incorrect username or password."


class CognitoError(JsonRESTError):
    """An error in Cognito's shape (`__type` and `message`), with Cognito's own wording."""


def not_authorized(message: str = INCORRECT_CREDENTIALS) -> CognitoError:
    return CognitoError("NotAuthorizedException", message)


def code_mismatch(message: str = "Invalid verification code provided, please try again.") -> CognitoError:
    return CognitoError("CodeMismatchException", message)


def expired_code() -> CognitoError:
    return CognitoError("ExpiredCodeException", "Invalid code provided, please request a code again.")


def user_not_found(message: str = "Username/client id combination not found.") -> CognitoError:
    return CognitoError("UserNotFoundException", message)


def invalid_parameter(message: str) -> CognitoError:
    return CognitoError("InvalidParameterException", message)


@dataclass(frozen=True)
class AppClient:
    """An app client with its pool and the backend (account and region) that holds both."""

    backend: CognitoIdpBackend
    pool: CognitoIdpUserPool
    client: CognitoIdpUserPoolClient

    @property
    def hides_user_existence(self) -> bool:
        """PreventUserExistenceErrors: ENABLED. An unknown user is then answered as a wrong
        password (sign-in) or with a simulated delivery (codes), never UserNotFoundException."""
        return self.client.extended_config.get("PreventUserExistenceErrors") == "ENABLED"

    @property
    def pool_name(self) -> str:
        """The part of the pool id after the region, which SRP hashes."""
        return self.pool.id.split("_", 1)[1]

    def user(self, username: str | None) -> CognitoIdpUser | None:
        """The user known by this name (username, email or sub), or None."""
        return self.pool._get_user(username) if username else None


def all_pools() -> Iterator[tuple[CognitoIdpBackend, CognitoIdpUserPool]]:
    for account_backends in list(cognitoidp_backends.values()):
        for region, backend in list(account_backends.items()):
            if region == "global":
                continue
            for pool in list(backend.user_pools.values()):
                yield backend, pool


def app_client(client_id: str | None) -> AppClient:
    for backend, pool in all_pools():
        client = pool.clients.get(client_id or "")
        if client is not None:
            return AppClient(backend, pool, client)
    raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")


def signed_in(access_token: str | None) -> tuple[AppClient, CognitoIdpUser]:
    """The app client and user an access token was issued to, while it is neither revoked nor
    signed out."""
    for backend, pool in all_pools():
        issued = pool.access_tokens.get(access_token or "")
        if issued is not None:
            client_id, username = issued
            user = pool._get_user(username)
            if user is None:
                break
            return AppClient(backend, pool, pool.clients[client_id]), user
    raise not_authorized("Invalid Access Token")


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT the emulation issued itself, so trusted without a signature check."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def masked_destination(attribute: str, value: str) -> dict[str, str]:
    """CodeDeliveryDetails as Cognito writes them: the address masked (a***@e***)."""
    if attribute == "phone_number":
        return {"Destination": f"+*******{value[-4:]}", "DeliveryMedium": "SMS", "AttributeName": "phone_number"}
    local, _, domain = value.partition("@")
    return {"Destination": f"{local[:1]}***@{domain[:1]}***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
