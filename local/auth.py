"""The Cognito authorizer, as API Gateway applies it, against the emulated user pool's JWKS.

API Gateway checks the token's signature, with the key of the pool's JWKS that the token's `kid`
names (a token naming none, or a key the pool does not publish, is refused), its expiry (`exp`,
and `nbf` when present), issuer and app client. Every secured method names OAuth scopes in the
contract (`aws.cognito.signin.user.admin`); with scopes, API Gateway accepts only an access
token whose `scope` claim holds one of them, so an ID token is refused. Like API Gateway, it does
not consult revocation: a revoked access token stays valid until it expires, as docs/local-stack.md says.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.request

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from local.clock import epoch_seconds
from receipt_vault.shapes import JsonObject


class TokenRejectedError(Exception):
    """The request is unauthorised; the message is safe to return."""


class CognitoAuthorizer:
    def __init__(self, aws_endpoint: str, region: str, user_pool_id: str, client_ids: set[str]) -> None:
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self.client_ids = client_ids
        self._jwks_url = f"{aws_endpoint}/{user_pool_id}/.well-known/jwks.json"
        self._keys: KeySet | None = None

    @property
    def keys(self) -> KeySet:
        if self._keys is None:  # fetched once, as API Gateway caches the pool's keys
            with urllib.request.urlopen(self._jwks_url, timeout=5) as response:  # noqa: S310 (local emulator URL)
                self._keys = KeySet.import_key_set(json.load(response))
        return self._keys

    def claims(self, authorization: str | None, required_scopes: frozenset[str]) -> dict[str, str]:
        """The verified claims as API Gateway passes them to the function: all strings."""
        if not authorization:
            raise TokenRejectedError("Unauthorized")
        token = authorization.removeprefix("Bearer ").strip()
        kid = _key_id(token)
        keys = self.keys
        if kid is None or kid not in {key.kid for key in keys.keys}:
            raise TokenRejectedError("Unauthorized")
        try:
            decoded = jwt.decode(token, keys.get_by_kid(kid), algorithms=["RS256"])
        except (JoseError, ValueError):
            raise TokenRejectedError("Unauthorized") from None
        claims: JsonObject = decoded.claims
        now = epoch_seconds()
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            raise TokenRejectedError("The incoming token has expired")
        if "nbf" in claims and (not isinstance(claims["nbf"], int) or claims["nbf"] > now):
            raise TokenRejectedError("Unauthorized")  # not valid yet (Cognito sets no nbf; a forger might)
        if claims.get("iss") != self.issuer or claims.get("token_use") != "access":
            raise TokenRejectedError("Unauthorized")
        if claims.get("client_id") not in self.client_ids:
            raise TokenRejectedError("Unauthorized")
        granted = claims.get("scope")
        if required_scopes and not (isinstance(granted, str) and required_scopes & set(granted.split())):
            raise TokenRejectedError("Unauthorized")
        return {name: value if isinstance(value, str) else json.dumps(value) for name, value in claims.items()}


def _key_id(token: str) -> str | None:
    """The `kid` of a compact JWS's header, read before anything is verified; None without one."""
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kid = decoded.get("kid") if isinstance(decoded, dict) else None
    return kid if isinstance(kid, str) and kid else None
