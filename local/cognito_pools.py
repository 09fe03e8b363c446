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

from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpUser,
    CognitoIdpUserPool,
    CognitoIdpUserPoolClient,
    cognitoidp_backends,
)
from moto.core.exceptions import JsonRESTError

from local.clock import epoch_seconds
from receipt_vault.shapes import JsonObject

INCORRECT_CREDENTIALS = "Incorrect username or password."
# The access tokens revoked (RevokeToken, GlobalSignOut), kept on moto's pool: moto forgets them,
# but Cognito still knows them, to answer "has been revoked" rather than "invalid".
_REVOKED_ACCESS_TOKENS = "_local_revoked_access_tokens"
# The lifetimes Cognito gives an app client's tokens when it names none, and the unit of each
# setting when TokenValidityUnits names none: an hour for access and ID tokens, 30 days to refresh.
_VALIDITY = {
    "access": ("AccessTokenValidity", "AccessToken", 1, "hours"),
    "id": ("IdTokenValidity", "IdToken", 1, "hours"),
    "refresh": ("RefreshTokenValidity", "RefreshToken", 30, "days"),
}
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


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


def token_lifetime(client: CognitoIdpUserPoolClient | None, token_use: str) -> int:
    """Seconds a token of `token_use` ("access", "id", "refresh") issued to `client` is valid:
    its AccessTokenValidity, IdTokenValidity or RefreshTokenValidity in its TokenValidityUnits."""
    setting, unit_name, default, default_unit = _VALIDITY[token_use]
    config = client.extended_config if client is not None else {}
    value = config.get(setting)
    if value is None:
        return int(default * _UNIT_SECONDS[default_unit])
    unit = (config.get("TokenValidityUnits") or {}).get(unit_name) or default_unit
    return int(value) * _UNIT_SECONDS[unit]


def revoke_access_token(pool: CognitoIdpUserPool, token: str) -> None:
    """The access token stops working for Cognito's operations, which then say so."""
    pool.access_tokens.pop(token, None)
    pool.__dict__.setdefault(_REVOKED_ACCESS_TOKENS, set()).add(token)


_REFRESH_ISSUED = "_local_refresh_token_issued"  # on moto's pool: refresh token -> epoch seconds


def note_refresh_token_issued(pool: CognitoIdpUserPool, refresh_token: str) -> None:
    pool.__dict__.setdefault(_REFRESH_ISSUED, {})[refresh_token] = epoch_seconds()


def refresh_token_expired(pool: CognitoIdpUserPool, refresh_token: str, client_id: str) -> bool:
    """Past the app client's RefreshTokenValidity, on the stack's clock."""
    issued = pool.__dict__.get(_REFRESH_ISSUED, {}).get(refresh_token)
    lifetime = token_lifetime(pool.clients.get(client_id), "refresh")
    return issued is not None and epoch_seconds() >= issued + lifetime


def _expired(token: str) -> bool:
    try:
        expires = unverified_claims(token).get("exp")
    except ValueError:
        return False
    return isinstance(expires, int) and expires <= epoch_seconds()


def signed_in(access_token: str | None) -> tuple[AppClient, CognitoIdpUser]:
    """The app client and user an access token was issued to, while it is unexpired and neither
    revoked nor signed out; otherwise Cognito's NotAuthorizedException for each case."""
    token = access_token or ""
    for backend, pool in all_pools():
        issued = pool.access_tokens.get(token)
        if issued is None and token not in pool.__dict__.get(_REVOKED_ACCESS_TOKENS, ()):
            continue
        if _expired(token):
            raise not_authorized("Access Token has expired")
        if issued is None:
            raise not_authorized("Access Token has been revoked")
        client_id, username = issued
        user: CognitoIdpUser | None = pool._get_user(username)  # None for an unknown name (local.cognito's patch)
        if user is None:
            break
        return AppClient(backend, pool, pool.clients[client_id]), user
    raise not_authorized("Invalid Access Token")


def unverified_claims(token: str) -> JsonObject:
    """The payload of a JWT the emulation issued itself, so trusted without a signature check."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    payload = parts[1]
    claims: JsonObject = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def masked_destination(attribute: str, value: str) -> dict[str, str]:
    """CodeDeliveryDetails as Cognito writes them: the address masked (a***@e***)."""
    if attribute == "phone_number":
        return {"Destination": f"+*******{value[-4:]}", "DeliveryMedium": "SMS", "AttributeName": "phone_number"}
    local, _, domain = value.partition("@")
    return {"Destination": f"{local[:1]}***@{domain[:1]}***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
