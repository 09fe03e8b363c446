"""The emulated user pool made to answer as Amazon Cognito does, for every flow Amplify uses.

moto 5.2.5 signs users up and issues real tokens, but it accepts any confirmation or reset code,
has neither ResendConfirmationCode nor RevokeToken (500), verifies no SRP password claim and no
TOTP code (local/cognito_sign_in.py), ignores PreventUserExistenceErrors, and looks for the pool
of an unsigned GlobalSignOut in us-east-1. It also signs every token with the private key it
ships (kid "dummy"), which anyone can read, issues every token for an hour and refresh tokens
forever whatever the app client says, accepts an expired or revoked access token on every
operation it authorises, and answers a wrong previous password on ChangePassword with the user's
sub. `install_cognito_fidelity` patches moto's Cognito request handler and models in this
process; the stack calls it before it provisions the pool.

The tokens are signed with a key this process generates, whose public half is the pools' JWKS.

The codes a user would receive by email are kept here, readable through `confirmation_codes`
(served as /_local/confirmation-codes), as a developer would read their inbox.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from joserfc import jwt
from joserfc.jwk import RSAKey
from moto.cognitoidp.exceptions import UsernameExistsException
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUser, CognitoIdpUserPool, UserStatus
from moto.cognitoidp.responses import CognitoIdpJsonWebKeyResponse, CognitoIdpResponse
from moto.core.responses import ActionResult, EmptyResult

from local import cognito_sign_in
from local.clock import epoch_seconds, iso_timestamp
from local.cognito_pools import (
    AppClient,
    CognitoError,
    all_pools,
    app_client,
    code_mismatch,
    expired_code,
    invalid_parameter,
    masked_destination,
    not_authorized,
    note_refresh_token_issued,
    revoke_access_token,
    signed_in,
    token_lifetime,
    unverified_claims,
    user_not_found,
)
from receipt_vault.shapes import JsonObject

SIGN_UP = "signUp"
FORGOT_PASSWORD = "forgotPassword"  # noqa: S105 (a kind of code, not a password)
# How long Cognito honours a code: a day to confirm an account, an hour to reset a password.
_CODE_LIFETIME_SECONDS = {SIGN_UP: 24 * 3600, FORGOT_PASSWORD: 3600}
_CODES = "_local_confirmation_codes"  # kept on moto's user: they go with it (deleted, or moto reset)
_CODES_LOCK = threading.Lock()
_INSTALLED = "_local_cognito_fidelity"

_moto_sign_up = CognitoIdpBackend.sign_up
_moto_get_user = CognitoIdpUserPool._get_user
_moto_create_jwt = CognitoIdpUserPool.create_jwt
_moto_create_refresh_token = CognitoIdpUserPool.create_refresh_token


@dataclass
class _IssuedCode:
    kind: str
    code: str
    issued_at: float  # epoch seconds on the stack's clock (CLOCK_OFFSET_DAYS)
    used: bool = False


def confirmation_codes(username: str) -> list[dict[str, str]]:
    """Every code the emulated Cognito sent to the user known by `username` (email, username or
    sub, in any pool), oldest first: {"kind": "signUp" | "forgotPassword", "code", "time"}."""
    issued: list[_IssuedCode] = []
    for _, pool in all_pools():
        user = pool._get_user(username)
        if user is not None:
            issued.extend(user.__dict__.get(_CODES, []))
    return [
        {
            "kind": code.kind,
            "code": code.code,
            "time": iso_timestamp(dt.datetime.fromtimestamp(code.issued_at, dt.UTC)),
        }
        for code in sorted(issued, key=lambda code: code.issued_at)
    ]


def _issue_code(user: CognitoIdpUser, kind: str) -> None:
    with _CODES_LOCK:
        user.__dict__.setdefault(_CODES, []).append(
            _IssuedCode(kind, f"{secrets.randbelow(10**6):06d}", epoch_seconds())
        )


def _redeem_code(user: CognitoIdpUser, kind: str, code: str) -> None:
    """Only the newest code of its kind counts, once, within its lifetime."""
    with _CODES_LOCK:
        issued = [item for item in user.__dict__.get(_CODES, []) if item.kind == kind]
        if not issued:
            raise expired_code()  # none was ever requested
        newest = issued[-1]
        if newest.used or not hmac.compare_digest(newest.code, code):
            raise code_mismatch()
        if epoch_seconds() - newest.issued_at > _CODE_LIFETIME_SECONDS[kind]:
            raise expired_code()
        newest.used = True


def _delivery(user: CognitoIdpUser) -> dict[str, str]:
    for attribute in ("email", "phone_number"):
        if attribute in user.attribute_lookup:
            return masked_destination(attribute, user.attribute_lookup[attribute])
    return _simulated_delivery(user.username)


def _simulated_delivery(username: str) -> dict[str, str]:
    """What Cognito answers for a user it will not admit to: a delivery shaped by the name."""
    if username.startswith("+"):
        return masked_destination("phone_number", username)
    return masked_destination("email", username if "@" in username else f"{username}@example.com")


# -- sign-up and confirmation ---------------------------------------------------------------------


def _sign_up(
    self: CognitoIdpBackend, client_id: str, username: str, password: str, attributes: list[dict[str, str]]
) -> tuple[CognitoIdpUser, dict[str, str] | None]:
    try:
        user, delivery = _moto_sign_up(self, client_id, username, password, attributes)
    except UsernameExistsException:
        pool = app_client(client_id).pool
        by_email = "email" in (pool.extended_config.get("UsernameAttributes") or [])
        message = "An account with the given email already exists." if by_email else "User already exists"
        raise CognitoError("UsernameExistsException", message) from None
    if delivery:  # Cognito sends a code when an attribute is to be verified
        _issue_code(user, SIGN_UP)
    return user, delivery


def _confirm_sign_up(self: CognitoIdpResponse) -> ActionResult:
    app = app_client(self._get_param("ClientId"))
    user = app.user(self._get_param("Username"))
    if user is None:
        raise code_mismatch() if app.hides_user_existence else user_not_found()
    if user.status == UserStatus.CONFIRMED:
        raise not_authorized("User cannot be confirmed. Current status is CONFIRMED")
    _redeem_code(user, SIGN_UP, self._get_param("ConfirmationCode") or "")
    user.status = UserStatus.CONFIRMED
    # The code came to the user's address: an auto-verified attribute is verified by it.
    verified = app.pool.extended_config.get("AutoVerifiedAttributes") or []
    user.update_attributes(
        [{"Name": f"{name}_verified", "Value": "true"} for name in verified if name in user.attribute_lookup]
    )
    return EmptyResult()


def _resend_confirmation_code(self: CognitoIdpResponse) -> ActionResult:
    app = app_client(self._get_param("ClientId"))
    username = self._get_param("Username") or ""
    user = app.user(username)
    if user is None or not user.enabled:
        if app.hides_user_existence:
            return ActionResult({"CodeDeliveryDetails": _simulated_delivery(username)})
        raise user_not_found() if user is None else not_authorized("User is disabled.")
    if user.status == UserStatus.CONFIRMED:
        raise invalid_parameter("User is already confirmed.")
    _issue_code(user, SIGN_UP)
    return ActionResult({"CodeDeliveryDetails": _delivery(user)})


# -- password reset -------------------------------------------------------------------------------


def _recovery_attribute(app: AppClient, user: CognitoIdpUser | None) -> str | None:
    """The verified address a reset code goes to, by the pool's AccountRecoverySetting (without
    one, Cognito's legacy order: phone, then email); None when the user has none."""
    setting = app.pool.extended_config.get("AccountRecoverySetting") or {}
    mechanisms = setting.get("RecoveryMechanisms") or [
        {"Priority": 1, "Name": "verified_phone_number"},
        {"Priority": 2, "Name": "verified_email"},
    ]
    for mechanism in sorted(mechanisms, key=lambda item: item["Priority"]):
        if mechanism["Name"] == "admin_only":
            raise not_authorized("Contact administrator to reset password.")
        attribute = str(mechanism["Name"]).removeprefix("verified_")
        if user is not None and user.attribute_lookup.get(f"{attribute}_verified") == "true":
            return attribute
    return None


def _forgot_password(self: CognitoIdpResponse) -> ActionResult:
    app = app_client(self._get_param("ClientId"))
    username = self._get_param("Username") or ""
    user = app.user(username)
    attribute = _recovery_attribute(app, user)
    if user is None or not user.enabled or attribute is None:
        if app.hides_user_existence:
            return ActionResult({"CodeDeliveryDetails": _simulated_delivery(username)})
        if user is None:
            raise user_not_found()
        if not user.enabled:
            raise not_authorized("User is disabled.")
        raise invalid_parameter(
            "Cannot reset password for the user as there is no registered/verified email or phone_number"
        )
    _issue_code(user, FORGOT_PASSWORD)
    return ActionResult({"CodeDeliveryDetails": masked_destination(attribute, user.attribute_lookup[attribute])})


def _confirm_forgot_password(self: CognitoIdpResponse) -> ActionResult:
    app = app_client(self._get_param("ClientId"))
    user = app.user(self._get_param("Username"))
    if user is None or not user.enabled:
        if app.hides_user_existence:
            raise code_mismatch()
        raise user_not_found() if user is None else not_authorized("User is disabled.")
    password = self._get_param("Password") or ""
    app.backend._validate_password(app.pool.id, password)  # before the code is spent on it
    _redeem_code(user, FORGOT_PASSWORD, self._get_param("ConfirmationCode") or "")
    user.password = password
    if user.status in (UserStatus.RESET_REQUIRED, UserStatus.FORCE_CHANGE_PASSWORD):
        user.status = UserStatus.CONFIRMED
    return EmptyResult()


# -- sessions -------------------------------------------------------------------------------------


def _revoke_token(self: CognitoIdpResponse) -> ActionResult:
    """RevokeToken: the refresh token and every token issued from it stop working. Revoking a
    revoked or unknown token succeeds, as OAuth's revocation (RFC 7009) has it."""
    app = app_client(self._get_param("ClientId"))
    if app.client.generate_secret and self._get_param("ClientSecret") != app.client.secret:
        raise not_authorized("Client secret is not valid.")
    if not app.client.extended_config.get("EnableTokenRevocation", True):
        raise CognitoError("UnsupportedOperationException", "Token revocation is not enabled for this client.")
    token = self._get_param("Token") or ""
    pool = app.pool
    if token in pool.access_tokens or token in pool.id_tokens:
        raise CognitoError("UnsupportedTokenTypeException", "Only refresh tokens can be revoked.")
    issued = pool.refresh_tokens.get(token)
    if issued is not None:
        client_id, _, origin_jti = issued
        if client_id != app.client.id:
            raise CognitoError("UnauthorizedException", "The token was not issued to this client.")
        pool.refresh_tokens[token] = None  # moto's mark of a revoked token
        for issued_token in [
            key for key in pool.access_tokens if unverified_claims(key).get("origin_jti") == origin_jti
        ]:
            revoke_access_token(pool, issued_token)
        for issued_token in [key for key in pool.id_tokens if unverified_claims(key).get("origin_jti") == origin_jti]:
            del pool.id_tokens[issued_token]
    return EmptyResult()


def _issued_with(tokens: Mapping[str, object], origin_jti: str) -> list[str]:
    return [token for token in tokens if unverified_claims(token).get("origin_jti") == origin_jti]


def _global_sign_out(self: CognitoIdpResponse) -> ActionResult:
    app, user = signed_in(self._get_param("AccessToken"))  # by the token, in whichever region
    app.pool.sign_out(user.username)
    return EmptyResult()


def _sign_out(self: CognitoIdpUserPool, username: str) -> None:
    """Every token of the user, whichever name (email or sub) each was issued under."""
    user: CognitoIdpUser | None = self._get_user(username)  # None for an unknown name (the patched _get_user)

    def theirs(name: str) -> bool:
        return name == username or (user is not None and self._get_user(name) is user)

    for token, issued in list(self.refresh_tokens.items()):
        if issued is not None and theirs(issued[1]):
            self.refresh_tokens[token] = None
    for token, (_, name) in list(self.access_tokens.items()):
        if theirs(name):
            revoke_access_token(self, token)
    for token, (_, name) in list(self.id_tokens.items()):
        if theirs(name):
            del self.id_tokens[token]


def _change_password(self: CognitoIdpResponse) -> ActionResult:
    """moto answers a wrong previous password with the user's name as the message."""
    app, user = signed_in(self._get_param("AccessToken"))
    proposed = self._get_param("ProposedPassword") or ""
    app.backend._validate_password(app.pool.id, proposed)
    if not hmac.compare_digest((user.password or "").encode(), (self._get_param("PreviousPassword") or "").encode()):
        raise not_authorized()
    user.password = proposed
    if user.status in (UserStatus.FORCE_CHANGE_PASSWORD, UserStatus.RESET_REQUIRED):
        user.status = UserStatus.CONFIRMED
    return EmptyResult()


# The operations a user authorises with their access token (those moto has). Cognito refuses
# an expired, revoked or unknown token on each of them, each with its own message.
_ACCESS_TOKEN_OPERATIONS = (
    "get_user",
    "change_password",
    "global_sign_out",
    "update_user_attributes",
    "set_user_mfa_preference",
    "associate_software_token",
    "verify_software_token",
)


def _authorised_by_access_token(
    handler: Callable[[CognitoIdpResponse], ActionResult],
) -> Callable[[CognitoIdpResponse], ActionResult]:
    @functools.wraps(handler)
    def checked(self: CognitoIdpResponse) -> ActionResult:
        if not self._get_param("Session"):  # MFA_SETUP during sign-in is authorised by its session
            signed_in(self._get_param("AccessToken"))
        return handler(self)

    return checked


# -- tokens ---------------------------------------------------------------------------------------

_SIGNING_KEY: RSAKey | None = None
_SIGNING_KEY_LOCK = threading.Lock()


def signing_key() -> RSAKey:
    """The private key the emulated pools sign tokens with: made once per process, so nobody
    outside it holds it (moto's own is public)."""
    global _SIGNING_KEY
    with _SIGNING_KEY_LOCK:
        if _SIGNING_KEY is None:
            _SIGNING_KEY = RSAKey.generate_key(2048, {"alg": "RS256", "use": "sig"}, private=True, auto_kid=True)
        return _SIGNING_KEY


def json_web_key_set() -> JsonObject:
    """The pools' JWKS, as /<pool id>/.well-known/jwks.json serves it: the public key only."""
    return {"keys": [signing_key().as_dict(private=False)]}


def _create_jwt(
    self: CognitoIdpUserPool,
    client_id: str,
    username: str,
    token_use: str,
    expires_in: int = 3600,  # moto's default, not used: the app client's validity decides
    extra_data: JsonObject | None = None,
) -> tuple[str, int]:
    """moto's claims, valid as long as the app client says, signed with this process's key."""
    lifetime = token_lifetime(self.clients.get(client_id), token_use)
    token, _ = _moto_create_jwt(self, client_id, username, token_use, lifetime, extra_data)
    key = signing_key()
    return jwt.encode({"kid": key.kid, "alg": "RS256"}, unverified_claims(token), key), lifetime


def _create_refresh_token(self: CognitoIdpUserPool, client_id: str, username: str) -> tuple[str, str]:
    """moto's, with the time it was issued: moto keeps none, so its refresh tokens never expire."""
    refresh_token, origin_jti = _moto_create_refresh_token(self, client_id, username)
    note_refresh_token_issued(self, refresh_token)
    return refresh_token, origin_jti


# -- users ----------------------------------------------------------------------------------------


def _get_user(self: CognitoIdpUserPool, username: str) -> CognitoIdpUser | None:
    """With UsernameConfiguration CaseSensitive false, Cognito matches names in any case."""
    found: CognitoIdpUser | None = _moto_get_user(self, username)
    if (
        found is not None
        or not username
        or (self.extended_config.get("UsernameConfiguration") or {}).get("CaseSensitive", True)
    ):
        return found
    wanted = username.casefold()
    aliases = self.extended_config.get("UsernameAttributes") or []
    for user in list(self.users.values()):
        names = [user.username, *(user.attribute_lookup.get(alias) for alias in aliases)]
        if any(isinstance(name, str) and name.casefold() == wanted for name in names):
            return user
    return None


def _id_token_attributes(self: CognitoIdpUserPool, client_id: str, username: str) -> JsonObject:
    """The user's attributes in the ID token, as Cognito puts them: every attribute the app client
    may read (all, when it names none), `*_verified` as booleans. moto adds only those an app
    client names, and writes the name the user signed in with as `email`."""
    client = self.clients.get(client_id)
    readable = client.get_readable_fields() if client else []
    user: CognitoIdpUser | None = self._get_user(username)  # None for an unknown name (the patched _get_user)
    claims: JsonObject = {}
    for attribute in user.attributes if user else []:
        name, value = attribute["Name"], attribute["Value"]
        if name != "sub" and (not readable or name in readable):
            claims[name] = value == "true" if name.endswith("_verified") else value
    return claims


# -- installation ---------------------------------------------------------------------------------

_PATCHES: dict[type, dict[str, Callable[..., object]]] = {
    CognitoIdpResponse: {
        "confirm_sign_up": _confirm_sign_up,
        "resend_confirmation_code": _resend_confirmation_code,
        "forgot_password": _forgot_password,
        "confirm_forgot_password": _confirm_forgot_password,
        "revoke_token": _revoke_token,
        "global_sign_out": _global_sign_out,
        "change_password": _change_password,
        "initiate_auth": cognito_sign_in.initiate_auth,
        "admin_initiate_auth": cognito_sign_in.admin_initiate_auth,
        "respond_to_auth_challenge": cognito_sign_in.respond_to_auth_challenge,
        "associate_software_token": cognito_sign_in.associate_software_token,
        "verify_software_token": cognito_sign_in.verify_software_token,
    },
    CognitoIdpBackend: {"sign_up": _sign_up},
    CognitoIdpUserPool: {
        "_get_user": _get_user,
        "sign_out": _sign_out,
        "get_user_extra_data_by_client_id": _id_token_attributes,
        "create_jwt": _create_jwt,
        "create_refresh_token": _create_refresh_token,
    },
}


def install_cognito_fidelity(region: str) -> None:
    """Patch moto's Cognito in this process (idempotent). `region` becomes the region of a
    request that names none: boto3 and Amplify send the public user pool operations unsigned,
    and moto would look for their pool in us-east-1. The last call's region wins."""
    CognitoIdpResponse.default_region = region
    if getattr(CognitoIdpResponse, _INSTALLED, False):
        return
    for owner, methods in _PATCHES.items():
        for name, method in methods.items():
            setattr(owner, name, method)
    for name in _ACCESS_TOKEN_OPERATIONS:
        setattr(CognitoIdpResponse, name, _authorised_by_access_token(getattr(CognitoIdpResponse, name)))
    # moto serves this class attribute for every pool's /.well-known/jwks.json.
    CognitoIdpJsonWebKeyResponse.json_web_key = json.dumps(json_web_key_set()).encode()
    setattr(CognitoIdpResponse, _INSTALLED, True)
