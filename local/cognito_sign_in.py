"""Signing in as Amazon Cognito does it: SRP that proves the password, TOTP MFA, refresh.

moto 5.2.5 answers USER_SRP_AUTH with random numbers and accepts any password claim, accepts any
TOTP code with one secret shared by every user, lets a refresh token of one client renew tokens
for another (and, on AdminInitiateAuth, after it is revoked), and answers CUSTOM_AUTH with
nothing, whatever the app client allows. Here InitiateAuth and RespondToAuthChallenge check what
Cognito checks and answer with its errors; whatever is right in moto (issuing tokens,
NEW_PASSWORD_REQUIRED) stays moto's. Each handler replaces the CognitoIdpResponse method of the
same name.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from moto.cognitoidp.models import CognitoIdpUser, UserStatus
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.cognitoidp.utils import check_secret_hash
from moto.core.responses import ActionResult

from local import srp
from local.cognito_pools import (
    AppClient,
    CognitoError,
    app_client,
    invalid_parameter,
    not_authorized,
    refresh_token_expired,
    signed_in,
    user_not_found,
)
from receipt_vault.shapes import JsonObject

# moto's own handlers, for what is delegated to it (captured before any patch).
_MOTO_INITIATE_AUTH = CognitoIdpResponse.initiate_auth
_MOTO_ADMIN_INITIATE_AUTH = CognitoIdpResponse.admin_initiate_auth
_MOTO_RESPOND_TO_AUTH_CHALLENGE = CognitoIdpResponse.respond_to_auth_challenge
_MOTO_ASSOCIATE_SOFTWARE_TOKEN = CognitoIdpResponse.associate_software_token
_MOTO_VERIFY_SOFTWARE_TOKEN = CognitoIdpResponse.verify_software_token

# Amplify and pycognito both write "Tue Dec 1 09:05:03 UTC 2026": no leading zero on the day.
_TIMESTAMP = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [1-9]\d? \d{2}:\d{2}:\d{2} UTC \d{4}")
_TOTP_STEP_SECONDS = 30
# What the emulation keeps on moto's user objects, so it lives and dies with them: the SRP salt
# (with the password it was made for: a new password gets a new salt), the TOTP secret associated
# but not yet verified, and the verified one, whose codes sign-in asks for.
_SRP_SALT = "_local_srp_salt"
_TOTP_PENDING = "_local_totp_pending"
_TOTP_SECRET = "_local_totp_secret"  # noqa: S105 (an attribute's name)


@dataclass(frozen=True)
class _Session:
    challenge: str
    client_id: str
    username: str | None  # the user's internal name; None for an unknown user's simulated challenge
    user_id_for_srp: str
    expires_at: float  # time.monotonic()
    srp: srp.ServerChallenge | None = None


_SESSIONS: dict[str, _Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _new_session_key() -> str:
    """Opaque, as long as Cognito's, and base64 as clients expect of a SECRET_BLOCK."""
    return base64.b64encode(secrets.token_bytes(96)).decode()


def _open_session(session: _Session) -> str:
    key = _new_session_key()
    with _SESSIONS_LOCK:
        now = time.monotonic()
        for stale in [stale for stale, kept in _SESSIONS.items() if kept.expires_at < now]:
            del _SESSIONS[stale]
        _SESSIONS[key] = session
    return key


def _session(app: AppClient, key: str | None, challenge: str, *, take: bool) -> _Session:
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key or "")
        if session is None or session.challenge != challenge or session.client_id != app.client.id:
            raise not_authorized("Invalid session for the user.")
        if session.expires_at < time.monotonic():
            del _SESSIONS[key or ""]
            raise not_authorized("Invalid session for the user, session is expired.")
        if take:
            del _SESSIONS[key or ""]
    return session


def _session_lifetime(app: AppClient) -> float:
    return 60.0 * int(app.client.extended_config.get("AuthSessionValidity") or 3)


# -- InitiateAuth ---------------------------------------------------------------------------------


_REFRESH_FLOWS = ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN")
# What Cognito says of a flow the app client does not allow; each flow has its own wording.
_NOT_ENABLED = {
    "USER_SRP_AUTH": "USER_SRP_AUTH is not enabled for the client.",
    "USER_PASSWORD_AUTH": "USER_PASSWORD_AUTH flow not enabled for this client",
    "CUSTOM_AUTH": "CUSTOM_AUTH is not enabled for the client.",
    "REFRESH_TOKEN_AUTH": "Refresh Token flow not enabled for this client",
}


def initiate_auth(self: CognitoIdpResponse) -> ActionResult:
    app = app_client(self._get_param("ClientId"))
    flow = self._get_param("AuthFlow")
    parameters: dict[str, str] = self._get_param("AuthParameters") or {}
    if flow in ("USER_SRP_AUTH", "USER_PASSWORD_AUTH"):
        _require_flow(app, flow)
        _check_secret_hash(app, parameters.get("USERNAME", ""), parameters.get("SECRET_HASH"))
        if flow == "USER_SRP_AUTH":
            return ActionResult(_start_srp(app, parameters))
        return ActionResult(_password_sign_in(app, parameters))
    if flow in _REFRESH_FLOWS:
        _require_flow(app, "REFRESH_TOKEN_AUTH")
        return ActionResult(_refresh(app, parameters.get("REFRESH_TOKEN")))
    if flow == "CUSTOM_AUTH":
        _require_flow(app, flow)
        if not (app.pool.extended_config.get("LambdaConfig") or {}).get("DefineAuthChallenge"):
            raise invalid_parameter("Custom auth lambda trigger is not configured for the user pool.")
        # The challenge triggers are not run locally (docs/local-stack.md): said so, not answered with nothing.
        raise CognitoError("UnsupportedOperationException", "The local stack does not emulate CUSTOM_AUTH.")
    return _MOTO_INITIATE_AUTH(self)  # moto refuses every other flow, as Cognito does


def admin_initiate_auth(self: CognitoIdpResponse) -> ActionResult:
    """A refresh as InitiateAuth's; the admin password flows stay moto's."""
    if self._get_param("AuthFlow") not in _REFRESH_FLOWS:
        return _MOTO_ADMIN_INITIATE_AUTH(self)
    app = app_client(self._get_param("ClientId"))
    if app.pool.id != self._get_param("UserPoolId"):
        raise CognitoError("ResourceNotFoundException", f"User pool client {app.client.id} does not exist.")
    _require_flow(app, "REFRESH_TOKEN_AUTH")
    parameters: dict[str, str] = self._get_param("AuthParameters") or {}
    return ActionResult(_refresh(app, parameters.get("REFRESH_TOKEN")))


def _require_flow(app: AppClient, flow: str) -> None:
    """The app client's ExplicitAuthFlows. Without any ALLOW_ value (none, or the legacy names)
    Cognito allows SRP, refresh and custom auth, and USER_PASSWORD_AUTH only when named."""
    declared = app.client.extended_config.get("ExplicitAuthFlows") or []
    if any(name.startswith("ALLOW_") for name in declared):
        allowed = f"ALLOW_{flow}" in declared
    else:
        allowed = flow in ("USER_SRP_AUTH", "REFRESH_TOKEN_AUTH", "CUSTOM_AUTH") or flow in declared
    if not allowed:
        raise invalid_parameter(_NOT_ENABLED[flow])


def _check_secret_hash(app: AppClient, username: str, secret_hash: str | None) -> None:
    if app.client.generate_secret and not check_secret_hash(app.client.secret, app.client.id, username, secret_hash):
        raise not_authorized(f"Unable to verify secret hash for client {app.client.id}")


def _start_srp(app: AppClient, parameters: dict[str, str]) -> JsonObject:
    username, srp_a = parameters.get("USERNAME"), parameters.get("SRP_A")
    if not username or not srp_a:
        raise invalid_parameter("Missing required parameter USERNAME or SRP_A")
    user = app.user(username)
    if user is None and not app.hides_user_existence:
        raise user_not_found("User does not exist.")
    if user is not None:
        user_id, salt = user.username, _salt_of(user)
        verifier = srp.password_verifier(app.pool_name, user_id, user.password or "", salt)
    else:
        # RFC 5054 2.5.1.3, as Cognito documents: the same salt and UUID for the same unknown
        # name, and a verifier nobody's password matches.
        user_id, salt = _simulated_identity(app.pool.id, username)
        verifier = pow(srp.G, secrets.randbits(256), srp.N)
    try:
        challenge = srp.ServerChallenge.start(int(srp_a, 16), verifier)
    except ValueError:
        raise invalid_parameter("SRP_A is not a valid SRP value") from None
    expires_at = time.monotonic() + _session_lifetime(app)
    secret_block = _open_session(
        _Session("PASSWORD_VERIFIER", app.client.id, user.username if user else None, user_id, expires_at, challenge)
    )
    return {
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeParameters": {
            "SALT": salt,
            "SRP_B": f"{challenge.big_b:x}",
            "USERNAME": user_id,
            "USER_ID_FOR_SRP": user_id,
            "SECRET_BLOCK": secret_block,
        },
    }


def _salt_of(user: CognitoIdpUser) -> str:
    kept = user.__dict__.get(_SRP_SALT)
    if kept is None or kept[0] != user.password:
        kept = (user.password, srp.new_salt())
        user.__dict__[_SRP_SALT] = kept
    return str(kept[1])


def _simulated_identity(pool_id: str, username: str) -> tuple[str, str]:
    digest = hmac.digest(pool_id.encode(), username.casefold().encode(), "sha256")
    salt = f"{0x10 + digest[16] % 0x70:02x}{digest[17:32].hex()}"  # the form srp.new_salt() gives
    return str(uuid.UUID(bytes=digest[:16], version=4)), salt


def _password_sign_in(app: AppClient, parameters: dict[str, str]) -> JsonObject:
    user = app.user(parameters.get("USERNAME"))
    if user is None:
        raise not_authorized() if app.hides_user_existence else user_not_found("User does not exist.")
    if user.password != parameters.get("PASSWORD"):
        raise not_authorized()
    return _signed_in(app, user)


def _refresh(app: AppClient, refresh_token: str | None) -> JsonObject:
    if not refresh_token:
        raise invalid_parameter("Missing required parameter REFRESH_TOKEN")
    if refresh_token not in app.pool.refresh_tokens:
        raise not_authorized("Invalid Refresh Token")
    issued = app.pool.refresh_tokens[refresh_token]
    if issued is None:  # moto's mark of a revoked or signed-out token
        raise not_authorized("Refresh Token has been revoked")
    client_id, username, _ = issued
    if client_id != app.client.id:
        raise not_authorized("Invalid Refresh Token")
    if refresh_token_expired(app.pool, refresh_token, client_id):
        raise not_authorized("Refresh Token has expired")
    user = app.user(username)
    if user is None:
        raise not_authorized("User does not exist.")
    if not user.enabled:
        raise not_authorized("User is disabled.")
    access_token, id_token, expires_in = app.pool.create_tokens_from_refresh_token(refresh_token)
    return {
        "ChallengeParameters": {},
        "AuthenticationResult": {
            "AccessToken": access_token,
            "IdToken": id_token,
            "ExpiresIn": expires_in,
            "TokenType": "Bearer",
        },
    }


def _signed_in(app: AppClient, user: CognitoIdpUser) -> JsonObject:
    """After the password is proven: the account's state decides, then MFA, then tokens."""
    if not user.enabled:
        raise not_authorized("User is disabled.")
    if user.status == UserStatus.UNCONFIRMED:
        raise CognitoError("UserNotConfirmedException", "User is not confirmed.")
    if user.status == UserStatus.RESET_REQUIRED:
        raise CognitoError("PasswordResetRequiredException", "Password reset required for the user")
    if user.status == UserStatus.FORCE_CHANGE_PASSWORD:
        session = _new_session_key()
        app.backend.sessions[session] = (user.username, app.pool)  # moto answers this challenge
        attributes = {item["Name"]: item["Value"] for item in user.attributes if item["Name"] != "sub"}
        return {
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": session,
            "ChallengeParameters": {
                "USER_ID_FOR_SRP": user.username,
                "requiredAttributes": "[]",
                "userAttributes": json.dumps(attributes),
            },
        }
    if app.pool.mfa_config != "OFF" and user.software_token_mfa_enabled and user.__dict__.get(_TOTP_SECRET):
        expires_at = time.monotonic() + _session_lifetime(app)
        session = _open_session(_Session("SOFTWARE_TOKEN_MFA", app.client.id, user.username, user.username, expires_at))
        return {
            "ChallengeName": "SOFTWARE_TOKEN_MFA",
            "Session": session,
            "ChallengeParameters": {"USER_ID_FOR_SRP": user.username},
        }
    result: JsonObject = app.backend._log_user_in(app.pool, app.client, user.username)
    return result


# -- RespondToAuthChallenge -----------------------------------------------------------------------


def respond_to_auth_challenge(self: CognitoIdpResponse) -> ActionResult:
    challenge = self._get_param("ChallengeName")
    if challenge not in ("PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA"):
        return _MOTO_RESPOND_TO_AUTH_CHALLENGE(self)  # NEW_PASSWORD_REQUIRED is right in moto
    app = app_client(self._get_param("ClientId"))
    responses: dict[str, str] = self._get_param("ChallengeResponses") or {}
    _check_secret_hash(app, responses.get("USERNAME", ""), responses.get("SECRET_HASH"))
    if challenge == "PASSWORD_VERIFIER":
        return ActionResult(_verify_password_claim(app, responses))
    return ActionResult(_verify_mfa_code(app, self._get_param("Session"), responses))


def _verify_password_claim(app: AppClient, responses: dict[str, str]) -> JsonObject:
    secret_block = responses.get("PASSWORD_CLAIM_SECRET_BLOCK", "")
    # One claim per challenge: a replayed or unknown secret block proves nothing.
    session = _session(app, secret_block, "PASSWORD_VERIFIER", take=True)
    user = app.pool.users.get(session.username) if session.username else None
    timestamp = responses.get("TIMESTAMP", "")
    if user is None or app.user(responses.get("USERNAME")) is not user or not _TIMESTAMP.fullmatch(timestamp):
        raise not_authorized()
    if session.srp is None:  # never: every PASSWORD_VERIFIER session carries its challenge
        raise not_authorized()
    expected = session.srp.expected_claim(
        app.pool_name, session.user_id_for_srp, base64.b64decode(secret_block), timestamp
    )
    if not hmac.compare_digest(expected, _base64_or_empty(responses.get("PASSWORD_CLAIM_SIGNATURE", ""))):
        raise not_authorized()
    return _signed_in(app, user)


def _base64_or_empty(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return b""


def _verify_mfa_code(app: AppClient, session_key: str | None, responses: dict[str, str]) -> JsonObject:
    # The session outlives a wrong code, so the user can type it again.
    session = _session(app, session_key, "SOFTWARE_TOKEN_MFA", take=False)
    user = app.pool.users.get(session.username or "")
    if user is None or app.user(responses.get("USERNAME")) is not user:
        raise not_authorized("Invalid session for the user.")
    if not totp_matches(user.__dict__.get(_TOTP_SECRET), responses.get("SOFTWARE_TOKEN_MFA_CODE")):
        raise CognitoError("CodeMismatchException", "Invalid code or auth state for the user.")
    _session(app, session_key, "SOFTWARE_TOKEN_MFA", take=True)
    result: JsonObject = app.backend._log_user_in(app.pool, app.client, user.username)
    return result


# -- TOTP -----------------------------------------------------------------------------------------


def associate_software_token(self: CognitoIdpResponse) -> ActionResult:
    if self._get_param("Session"):
        return _MOTO_ASSOCIATE_SOFTWARE_TOKEN(self)  # MFA_SETUP during sign-in: moto's, not emulated
    _, user = signed_in(self._get_param("AccessToken"))
    # A secret of the user's own, as Cognito gives: 32 random bytes, base32 without padding.
    secret = base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=")
    user.__dict__[_TOTP_PENDING] = secret
    return ActionResult({"SecretCode": secret})


def verify_software_token(self: CognitoIdpResponse) -> ActionResult:
    if self._get_param("Session"):
        return _MOTO_VERIFY_SOFTWARE_TOKEN(self)
    _, user = signed_in(self._get_param("AccessToken"))
    pending = user.__dict__.get(_TOTP_PENDING)
    if not totp_matches(pending, self._get_param("UserCode")):
        raise CognitoError("EnableSoftwareTokenMFAException", "Code mismatch and fail enable Software Token MFA")
    user.__dict__[_TOTP_SECRET] = pending
    user.__dict__.pop(_TOTP_PENDING, None)
    user.token_verified = True  # what moto's SetUserMFAPreference checks
    return ActionResult({"Status": "SUCCESS"})


def totp_matches(secret: str | None, code: str | None) -> bool:
    """RFC 6238 (SHA-1, 6 digits, 30 s) on the real clock, which the authenticator app on the
    phone runs on, one step either side for clock drift."""
    if not secret or not code or not re.fullmatch(r"\d{6}", code):
        return False
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    totp = TOTP(key, 6, SHA1(), _TOTP_STEP_SECONDS, enforce_key_length=False)  # noqa: S303 (RFC 6238's)
    now = int(time.time())
    return any(
        hmac.compare_digest(totp.generate(now + step * _TOTP_STEP_SECONDS), code.encode()) for step in (-1, 0, 1)
    )
