"""Every Amplify auth flow of the app against the emulated Cognito, as Amazon Cognito answers it.

A stack of its own. The flows are driven by pycognito, which signs in with SRP as Amplify does
and verifies the tokens it gets (signature, issuer, audience, token use), through boto3 clients
that send nothing signed, as Amplify sends these operations. The codes a user would find in
their email are read from local.cognito, which /_local/confirmation-codes serves.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
import urllib.parse
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import moto
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from joserfc import jwk, jwt
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP
from pycognito.exceptions import SoftwareTokenMFAChallengeException

from local.amplify import amplify_configuration, amplify_outputs
from local.cfn_template import load_template
from local.clock import CLOCK_OFFSET_VARIABLE
from local.cognito import confirmation_codes, install_cognito_fidelity, signing_key
from local.stack import LocalStack, StackConfig
from tests.integration.conftest import http

PASSWORD = "Sup3r-Secret!"
NEW_PASSWORD = "An0ther-Secret!"
INCORRECT = ("NotAuthorizedException", "Incorrect username or password.")


@pytest.fixture(scope="module")
def auth_stack() -> Iterator[LocalStack]:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # pycognito checks a token's expiry on the real clock, so this stack runs on it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CLOCK_OFFSET_VARIABLE, "0")
        config = StackConfig(api_port=0, aws_port=0, stage_throttling=False, run_schedules=False, log=lambda _: None)
        install_cognito_fidelity(config.region)  # until LocalStack.start installs it
        with LocalStack(config) as stack:
            yield stack


# -- clients --------------------------------------------------------------------------------------


def app_user(stack: LocalStack, email: str) -> Cognito:
    """The app's view of one user: pycognito on an unsigned client of the emulated pool."""
    user = Cognito(
        stack.user_pool_id,
        stack.user_pool_client_id,
        username=email,
        botocore_config=Config(signature_version=UNSIGNED),
        boto3_client_kwargs={"endpoint_url": stack.aws_endpoint},
    )
    # pycognito expects the issuer at its endpoint; the pool's tokens name Cognito's own URL (as
    # the gateway checks), so it gets the keys and keeps that URL.
    user.pool_domain_url = None
    user.pool_jwk = _json(f"{stack.aws_endpoint}/{stack.user_pool_id}/.well-known/jwks.json")
    user.set_base_attributes(email=email)
    return user


def public_client(stack: LocalStack) -> Any:
    return app_user(stack, "unused@example.com").client


def new_user(stack: LocalStack, *, confirmed: bool = True) -> Cognito:
    user = app_user(stack, f"user-{uuid.uuid4().hex[:8]}@example.com")
    user.register(user.username, PASSWORD)
    if confirmed:
        user.confirm_sign_up(newest_code(user.username, "signUp"))
    return user


def newest_code(username: str, kind: str) -> str:
    return [entry["code"] for entry in confirmation_codes(username) if entry["kind"] == kind][-1]


def srp_tokens(stack: LocalStack, email: str, password: str) -> dict[str, Any]:
    srp = AWSSRP(email, password, stack.user_pool_id, stack.user_pool_client_id, client=public_client(stack))
    result: dict[str, Any] = srp.authenticate_user()["AuthenticationResult"]
    return result


def refresh(stack: LocalStack, refresh_token: str) -> dict[str, Any]:
    return public_client(stack).initiate_auth(
        ClientId=stack.user_pool_client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )


def refused(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def totp(secret: str, at: float | None = None) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    generator = TOTP(key, 6, SHA1(), 30, enforce_key_length=False)  # noqa: S303 (RFC 6238's)
    return generator.generate(int(time.time() if at is None else at)).decode()


def wrong_totp(secret: str) -> str:
    """A code of no step the server accepts now (one either side of the current), nor of the
    next, should the clock tick on meanwhile."""
    now = time.time()
    accepted = {totp(secret, now + 30 * step) for step in (-1, 0, 1, 2)}
    return next(code for code in (f"{n:06d}" for n in range(10**6)) if code not in accepted)


def with_totp(stack: LocalStack) -> tuple[Cognito, str]:
    """A signed-in user who has set up TOTP MFA, and the secret their authenticator app holds."""
    user = new_user(stack)
    user.authenticate(PASSWORD)
    secret = user.associate_software_token()
    assert user.verify_software_token(totp(secret), "phone")
    user.set_user_mfa_preference(sms_mfa=False, software_token_mfa=True, preferred="SOFTWARE_TOKEN")
    return user, secret


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


# -- sign-up and confirmation ---------------------------------------------------------------------


def test_sign_up_sends_a_six_digit_code_that_confirms_the_account(auth_stack):
    user = app_user(auth_stack, f"user-{uuid.uuid4().hex[:8]}@example.com")

    signed_up = user.register(user.username, PASSWORD)
    [sent] = confirmation_codes(user.username)
    user.confirm_sign_up(sent["code"])
    user.authenticate(PASSWORD)

    assert signed_up["UserConfirmed"] is False
    assert signed_up["CodeDeliveryDetails"] == {
        "Destination": "u***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    assert sent["kind"] == "signUp" and len(sent["code"]) == 6 and sent["code"].isdigit() and sent["time"]
    assert user.id_claims["email"] == user.username and user.id_claims["email_verified"] is True


def test_a_wrong_confirmation_code_is_a_code_mismatch_and_the_account_stays_unconfirmed(auth_stack):
    user = new_user(auth_stack, confirmed=False)
    code = newest_code(user.username, "signUp")

    answer = refused(lambda: user.confirm_sign_up(other_code(code)))

    assert answer == ("CodeMismatchException", "Invalid verification code provided, please try again.")
    assert refused(lambda: user.authenticate(PASSWORD)) == ("UserNotConfirmedException", "User is not confirmed.")
    user.confirm_sign_up(code)


def test_a_resent_code_confirms_and_the_one_it_replaces_no_longer_does(auth_stack):
    user = new_user(auth_stack, confirmed=False)
    first = newest_code(user.username, "signUp")
    resent = first
    while resent == first:  # two codes in a row may match, one in a million
        answer = user.client.resend_confirmation_code(ClientId=user.client_id, Username=user.username)
        resent = newest_code(user.username, "signUp")

    assert answer["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert [entry["code"] for entry in confirmation_codes(user.username)][-1] == resent  # newest last
    assert refused(lambda: user.confirm_sign_up(first))[0] == "CodeMismatchException"
    user.confirm_sign_up(resent)


def test_a_confirmed_account_is_not_confirmed_again_nor_sent_a_code(auth_stack):
    user = new_user(auth_stack)
    code = newest_code(user.username, "signUp")

    assert refused(lambda: user.confirm_sign_up(code)) == (
        "NotAuthorizedException",
        "User cannot be confirmed. Current status is CONFIRMED",
    )
    assert refused(lambda: user.resend_confirmation_code(user.username)) == (
        "InvalidParameterException",
        "User is already confirmed.",
    )


# -- SRP sign-in ----------------------------------------------------------------------------------


def test_srp_sign_in_with_the_password_gives_tokens_the_gateway_accepts(auth_stack):
    user = new_user(auth_stack)

    user.authenticate(PASSWORD)  # pycognito verifies the tokens as well

    assert http(auth_stack, "GET", "/receipts", token=user.access_token).status == 200
    assert user.access_claims["token_use"] == "access" and user.id_claims["aud"] == auth_stack.user_pool_client_id


def test_srp_sign_in_with_a_wrong_password_is_refused(auth_stack):
    user = new_user(auth_stack)

    assert refused(lambda: user.authenticate("Wr0ng-Password!")) == INCORRECT


def test_a_password_claim_proves_one_sign_in_only(auth_stack):
    user = new_user(auth_stack)
    client = public_client(auth_stack)
    srp = AWSSRP(user.username, PASSWORD, auth_stack.user_pool_id, user.client_id, client=client)
    started = client.initiate_auth(
        ClientId=user.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=srp.get_auth_params()
    )
    claim = srp.process_challenge(started["ChallengeParameters"], srp.get_auth_params())

    def answer() -> Any:
        return client.respond_to_auth_challenge(
            ClientId=user.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=claim
        )

    assert "AccessToken" in answer()["AuthenticationResult"]
    assert refused(answer)[0] == "NotAuthorizedException"


def test_an_invited_user_sets_a_password_at_the_first_srp_sign_in(auth_stack):
    email = f"invited-{uuid.uuid4().hex[:8]}@example.com"
    auth_stack.resources.client("cognito-idp").admin_create_user(
        UserPoolId=auth_stack.user_pool_id,
        Username=email,
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
    )

    app_user(auth_stack, email).new_password_challenge("Temp-Passw0rd!", NEW_PASSWORD)

    assert srp_tokens(auth_stack, email, NEW_PASSWORD)["AccessToken"]


# -- refresh and revocation -----------------------------------------------------------------------


def test_a_refresh_token_renews_the_access_token(auth_stack):
    user = new_user(auth_stack)
    user.authenticate(PASSWORD)
    first = user.access_token

    user.renew_access_token()

    assert user.access_token != first
    assert http(auth_stack, "GET", "/receipts", token=user.access_token).status == 200


def test_a_revoked_refresh_token_renews_nothing_and_revoking_it_again_succeeds(auth_stack):
    user = new_user(auth_stack)
    tokens = srp_tokens(auth_stack, user.username, PASSWORD)
    client = public_client(auth_stack)

    client.revoke_token(Token=tokens["RefreshToken"], ClientId=user.client_id)
    again = client.revoke_token(Token=tokens["RefreshToken"], ClientId=user.client_id)

    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert refused(lambda: refresh(auth_stack, tokens["RefreshToken"])) == (
        "NotAuthorizedException",
        "Refresh Token has been revoked",
    )
    # The access token issued with it is revoked for Cognito's own operations too.
    assert refused(lambda: client.get_user(AccessToken=tokens["AccessToken"]))[0] == "NotAuthorizedException"


def test_revoking_one_device_s_session_leaves_the_other_signed_in(auth_stack):
    user = new_user(auth_stack)
    phone = srp_tokens(auth_stack, user.username, PASSWORD)
    tablet = srp_tokens(auth_stack, user.username, PASSWORD)

    public_client(auth_stack).revoke_token(Token=phone["RefreshToken"], ClientId=user.client_id)

    assert refresh(auth_stack, tablet["RefreshToken"])["AuthenticationResult"]["AccessToken"]


def test_an_unknown_refresh_token_is_refused(auth_stack):
    assert refused(lambda: refresh(auth_stack, "not-a-refresh-token")) == (
        "NotAuthorizedException",
        "Invalid Refresh Token",
    )


# -- global sign-out ------------------------------------------------------------------------------


def test_global_sign_out_sent_unsigned_ends_every_session_of_the_user(auth_stack):
    user = new_user(auth_stack)
    other_device = srp_tokens(auth_stack, user.username, PASSWORD)
    user.authenticate(PASSWORD)
    access_token, refresh_token = user.access_token, user.refresh_token

    user.logout()  # GlobalSignOut, unsigned

    for revoked in (refresh_token, other_device["RefreshToken"]):
        assert refused(lambda token=revoked: refresh(auth_stack, token))[0] == "NotAuthorizedException"
    assert refused(lambda: user.client.get_user(AccessToken=access_token))[0] == "NotAuthorizedException"


# -- password reset -------------------------------------------------------------------------------


def test_a_reset_code_sets_the_new_password_and_the_old_one_stops_working(auth_stack):
    user = new_user(auth_stack)

    user.initiate_forgot_password()
    user.confirm_forgot_password(newest_code(user.username, "forgotPassword"), NEW_PASSWORD)

    assert srp_tokens(auth_stack, user.username, NEW_PASSWORD)["AccessToken"]
    assert refused(lambda: srp_tokens(auth_stack, user.username, PASSWORD)) == INCORRECT


def test_a_wrong_reset_code_is_a_code_mismatch_and_the_password_stays(auth_stack):
    user = new_user(auth_stack)
    user.initiate_forgot_password()
    code = newest_code(user.username, "forgotPassword")

    assert refused(lambda: user.confirm_forgot_password(other_code(code), NEW_PASSWORD))[0] == "CodeMismatchException"
    assert srp_tokens(auth_stack, user.username, PASSWORD)["AccessToken"]


def test_a_new_password_against_the_policy_is_refused_before_the_code_is_spent(auth_stack):
    user = new_user(auth_stack)
    user.initiate_forgot_password()
    code = newest_code(user.username, "forgotPassword")

    assert refused(lambda: user.confirm_forgot_password(code, "short"))[0] == "InvalidPasswordException"
    user.confirm_forgot_password(code, NEW_PASSWORD)
    assert srp_tokens(auth_stack, user.username, NEW_PASSWORD)["AccessToken"]


# -- TOTP MFA -------------------------------------------------------------------------------------


def test_totp_mfa_challenges_the_sign_in_and_a_current_code_completes_it(auth_stack):
    user, secret = with_totp(auth_stack)

    with pytest.raises(SoftwareTokenMFAChallengeException):
        user.authenticate(PASSWORD)
    user.respond_to_software_token_mfa_challenge(totp(secret))

    assert http(auth_stack, "GET", "/receipts", token=user.access_token).status == 200
    settings = user.client.get_user(AccessToken=user.access_token)
    assert settings["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]


def test_a_wrong_totp_code_is_refused_and_the_right_one_may_follow(auth_stack):
    user, secret = with_totp(auth_stack)
    with pytest.raises(SoftwareTokenMFAChallengeException):
        user.authenticate(PASSWORD)

    assert refused(lambda: user.respond_to_software_token_mfa_challenge(wrong_totp(secret))) == (
        "CodeMismatchException",
        "Invalid code or auth state for the user.",
    )
    user.respond_to_software_token_mfa_challenge(totp(secret))


def test_a_wrong_code_does_not_set_up_totp(auth_stack):
    user = new_user(auth_stack)
    user.authenticate(PASSWORD)
    secret = user.associate_software_token()

    assert refused(lambda: user.verify_software_token(wrong_totp(secret))) == (
        "EnableSoftwareTokenMFAException",
        "Code mismatch and fail enable Software Token MFA",
    )
    assert refused(lambda: user.set_user_mfa_preference(False, True, "SOFTWARE_TOKEN"))[0] == (
        "InvalidParameterException"
    )


def test_every_user_has_a_totp_secret_of_their_own(auth_stack):
    _, first_secret = with_totp(auth_stack)
    second, second_secret = with_totp(auth_stack)
    with pytest.raises(SoftwareTokenMFAChallengeException):
        second.authenticate(PASSWORD)

    assert first_secret != second_secret
    if totp(first_secret) != totp(second_secret):  # equal one time in a million
        assert refused(lambda: second.respond_to_software_token_mfa_challenge(totp(first_secret)))[0] == (
            "CodeMismatchException"
        )


# -- users that do not exist (PreventUserExistenceErrors: ENABLED) --------------------------------


def test_the_app_client_hides_whether_a_user_exists_as_the_template_asks():
    client = load_template()["Resources"]["UserPoolClient"]["Properties"]

    assert client["PreventUserExistenceErrors"] == "ENABLED"


def test_srp_for_an_unknown_user_is_answered_as_a_wrong_password(auth_stack):
    client = public_client(auth_stack)
    stranger = f"nobody-{uuid.uuid4().hex[:8]}@example.com"

    def challenge(username: str) -> dict[str, str]:
        srp = AWSSRP(username, PASSWORD, auth_stack.user_pool_id, auth_stack.user_pool_client_id, client=client)
        parameters: dict[str, str] = client.initiate_auth(
            ClientId=auth_stack.user_pool_client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=srp.get_auth_params()
        )["ChallengeParameters"]
        return parameters

    first, second, known = challenge(stranger), challenge(stranger), challenge(new_user(auth_stack).username)

    assert first.keys() == known.keys()
    assert uuid.UUID(first["USER_ID_FOR_SRP"]).version == 4
    assert (first["SALT"], first["USER_ID_FOR_SRP"]) == (second["SALT"], second["USER_ID_FOR_SRP"])
    assert refused(lambda: srp_tokens(auth_stack, stranger, PASSWORD)) == INCORRECT


def test_a_password_sign_in_of_an_unknown_user_is_answered_as_a_wrong_password(auth_stack):
    def sign_in(username: str) -> Any:
        return public_client(auth_stack).initiate_auth(
            ClientId=auth_stack.user_pool_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )

    assert refused(lambda: sign_in("nobody@example.com")) == INCORRECT


def test_a_reset_for_an_unknown_or_unverified_user_looks_sent_and_sends_nothing(auth_stack):
    known = new_user(auth_stack)
    unconfirmed = new_user(auth_stack, confirmed=False)
    stranger = app_user(auth_stack, f"nobody-{uuid.uuid4().hex[:8]}@example.com")

    answers = [
        user.client.forgot_password(ClientId=user.client_id, Username=user.username)
        for user in (known, unconfirmed, stranger)
    ]

    assert [answer["CodeDeliveryDetails"]["DeliveryMedium"] for answer in answers] == ["EMAIL"] * 3
    assert [entry["kind"] for entry in confirmation_codes(known.username)] == ["signUp", "forgotPassword"]
    assert [entry["kind"] for entry in confirmation_codes(unconfirmed.username)] == ["signUp"]
    assert confirmation_codes(stranger.username) == []


def test_a_resend_for_an_unknown_user_looks_sent(auth_stack):
    stranger = app_user(auth_stack, "nobody@example.com")

    answer = stranger.client.resend_confirmation_code(ClientId=stranger.client_id, Username=stranger.username)

    assert answer["CodeDeliveryDetails"] == {
        "Destination": "n***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }


def test_confirming_an_unknown_user_is_a_code_mismatch(auth_stack):
    stranger = app_user(auth_stack, "nobody@example.com")

    assert refused(lambda: stranger.confirm_sign_up("123456"))[0] == "CodeMismatchException"
    assert refused(lambda: stranger.confirm_forgot_password("123456", NEW_PASSWORD))[0] == "CodeMismatchException"


# -- token lifetimes ------------------------------------------------------------------------------


def _template_client() -> dict[str, Any]:
    properties: dict[str, Any] = load_template()["Resources"]["UserPoolClient"]["Properties"]
    return properties


def test_the_template_s_app_client_gives_tokens_an_hour_and_refresh_tokens_30_days():
    client = _template_client()

    assert (client["AccessTokenValidity"], client["TokenValidityUnits"]["AccessToken"]) == (1, "hours")
    assert (client["IdTokenValidity"], client["TokenValidityUnits"]["IdToken"]) == (1, "hours")
    assert (client["RefreshTokenValidity"], client["TokenValidityUnits"]["RefreshToken"]) == (30, "days")


def test_issued_tokens_expire_when_the_app_client_says(auth_stack):
    user = new_user(auth_stack)
    tokens = srp_tokens(auth_stack, user.username, PASSWORD)

    assert tokens["ExpiresIn"] == 3600
    for token in (tokens["AccessToken"], tokens["IdToken"]):
        claims = _claims(token)
        assert claims["exp"] - claims["iat"] == 3600


def _refresh_as_admin(stack: LocalStack, refresh_token: str) -> dict[str, Any]:
    return stack.resources.client("cognito-idp").admin_initiate_auth(
        UserPoolId=stack.user_pool_id,
        ClientId=stack.user_pool_client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )


@pytest.mark.parametrize("renew", [refresh, _refresh_as_admin], ids=["InitiateAuth", "AdminInitiateAuth"])
def test_a_refresh_token_renews_for_30_days_and_then_has_expired(auth_stack, monkeypatch, renew):
    user = new_user(auth_stack)
    refresh_token = srp_tokens(auth_stack, user.username, PASSWORD)["RefreshToken"]

    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, "29")
    renewed = renew(auth_stack, refresh_token)["AuthenticationResult"]
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, "31")

    assert abs(_claims(renewed["AccessToken"])["iat"] - (time.time() + 29 * 86400)) < 120
    assert refused(lambda: renew(auth_stack, refresh_token)) == ("NotAuthorizedException", "Refresh Token has expired")


def test_an_admin_refresh_with_a_revoked_refresh_token_is_refused(auth_stack):
    user = new_user(auth_stack)
    tokens = srp_tokens(auth_stack, user.username, PASSWORD)
    public_client(auth_stack).revoke_token(Token=tokens["RefreshToken"], ClientId=user.client_id)

    assert refused(lambda: _refresh_as_admin(auth_stack, tokens["RefreshToken"])) == (
        "NotAuthorizedException",
        "Refresh Token has been revoked",
    )


# -- operations authorised by the access token ----------------------------------------------------

_ACCESS_TOKEN_OPERATIONS: dict[str, Callable[[Any, str], Any]] = {
    "GetUser": lambda client, token: client.get_user(AccessToken=token),
    "AssociateSoftwareToken": lambda client, token: client.associate_software_token(AccessToken=token),
    "VerifySoftwareToken": lambda client, token: client.verify_software_token(AccessToken=token, UserCode="123456"),
    "ChangePassword": lambda client, token: client.change_password(
        AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD
    ),
    "UpdateUserAttributes": lambda client, token: client.update_user_attributes(
        AccessToken=token, UserAttributes=[{"Name": "name", "Value": "Someone"}]
    ),
    "SetUserMFAPreference": lambda client, token: client.set_user_mfa_preference(
        AccessToken=token, SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False}
    ),
    "GlobalSignOut": lambda client, token: client.global_sign_out(AccessToken=token),
}
_OPERATIONS = pytest.mark.parametrize("operation", list(_ACCESS_TOKEN_OPERATIONS))


@_OPERATIONS
def test_an_expired_access_token_authorises_no_operation(auth_stack, monkeypatch, operation):
    user = new_user(auth_stack)
    tokens = srp_tokens(auth_stack, user.username, PASSWORD)
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, "1")  # a day on: past the access token's hour

    answer = refused(lambda: _ACCESS_TOKEN_OPERATIONS[operation](public_client(auth_stack), tokens["AccessToken"]))

    assert answer == ("NotAuthorizedException", "Access Token has expired")
    # The session itself is still good: its refresh token renews it.
    assert refresh(auth_stack, tokens["RefreshToken"])["AuthenticationResult"]["AccessToken"]


@_OPERATIONS
@pytest.mark.parametrize("ending", ["RevokeToken", "GlobalSignOut"])
def test_a_revoked_access_token_is_said_to_be_revoked(auth_stack, operation, ending):
    user = new_user(auth_stack)
    tokens = srp_tokens(auth_stack, user.username, PASSWORD)
    client = public_client(auth_stack)
    if ending == "RevokeToken":
        client.revoke_token(Token=tokens["RefreshToken"], ClientId=user.client_id)
    else:
        client.global_sign_out(AccessToken=tokens["AccessToken"])

    answer = refused(lambda: _ACCESS_TOKEN_OPERATIONS[operation](client, tokens["AccessToken"]))

    assert answer == ("NotAuthorizedException", "Access Token has been revoked")


def test_an_access_token_the_pool_never_issued_is_invalid(auth_stack):
    assert refused(lambda: public_client(auth_stack).get_user(AccessToken="not-a-token")) == (
        "NotAuthorizedException",
        "Invalid Access Token",
    )


def test_a_password_is_changed_only_with_the_right_previous_one(auth_stack):
    user = new_user(auth_stack)
    token = srp_tokens(auth_stack, user.username, PASSWORD)["AccessToken"]
    client = public_client(auth_stack)

    wrong = refused(
        lambda: client.change_password(
            AccessToken=token, PreviousPassword="Wr0ng-Secret!", ProposedPassword=NEW_PASSWORD
        )
    )
    client.change_password(AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD)

    assert wrong == INCORRECT
    assert refused(lambda: srp_tokens(auth_stack, user.username, PASSWORD)) == INCORRECT
    assert srp_tokens(auth_stack, user.username, NEW_PASSWORD)["AccessToken"]


# -- the pool's signing key -----------------------------------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _header(token: str) -> dict[str, Any]:
    header = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return decoded


def _moto_bundled_key() -> jwk.RSAKey:
    """The private key moto ships, which anyone can read."""
    bundled = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    return jwk.RSAKey.import_key(json.loads(gzip.decompress(bundled.read_bytes())))


def test_the_pool_signs_with_a_key_of_its_own_that_its_jwks_publishes(auth_stack):
    user = new_user(auth_stack)
    token = srp_tokens(auth_stack, user.username, PASSWORD)["AccessToken"]
    published = _json(f"{auth_stack.aws_endpoint}/{auth_stack.user_pool_id}/.well-known/jwks.json")

    [key] = published["keys"]
    assert key["kid"] != "dummy" and "d" not in key  # the public half only
    assert _header(token)["kid"] == key["kid"]
    assert jwt.decode(token, jwk.KeySet.import_key_set(published), algorithms=["RS256"]).claims["sub"]
    assert key["n"] != _moto_bundled_key().as_dict(private=False)["n"]


def test_a_token_signed_with_moto_s_bundled_key_is_refused(auth_stack):
    user = new_user(auth_stack)
    claims = _claims(srp_tokens(auth_stack, user.username, PASSWORD)["AccessToken"])
    ours = signing_key()

    forged = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, _moto_bundled_key())
    resigned = jwt.encode({"alg": "RS256", "kid": ours.kid}, claims, ours)  # the same claims, the pool's key

    assert http(auth_stack, "GET", "/receipts", token=forged).status == 401
    assert http(auth_stack, "GET", "/receipts", token=resigned).status == 200


@pytest.mark.parametrize(
    "header", [{"alg": "RS256"}, {"alg": "RS256", "kid": "another-key"}], ids=["no-kid", "unknown"]
)
def test_a_token_naming_no_key_of_the_pool_is_refused_even_if_signed_with_its_key(auth_stack, header):
    user = new_user(auth_stack)
    claims = _claims(srp_tokens(auth_stack, user.username, PASSWORD)["AccessToken"])

    response = http(auth_stack, "GET", "/receipts", token=jwt.encode(header, claims, signing_key()))

    assert response.status == 401


# -- flows the app client does not allow ----------------------------------------------------------


def test_custom_auth_which_the_app_client_does_not_allow_is_an_invalid_parameter(auth_stack):
    user = new_user(auth_stack)
    assert "ALLOW_CUSTOM_AUTH" not in _template_client()["ExplicitAuthFlows"]

    answer = refused(
        lambda: public_client(auth_stack).initiate_auth(
            ClientId=user.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": user.username}
        )
    )

    assert answer == ("InvalidParameterException", "CUSTOM_AUTH is not enabled for the client.")


# -- the Amplify configuration --------------------------------------------------------------------

# amplifyconfiguration.json (Gen 1), as Amplify Flutter parses it: the keys and values of
# aws-amplify/amplify-flutter packages/amplify_core/lib/src/config/auth/cognito/user_pool.g.dart
# (CognitoUserPool.Default), auth.g.dart and password_protection_settings.g.dart (Auth.Default),
# authentication_flow_type.dart, api/appsync/api_config.g.dart and endpoint_type.dart (one
# awsAPIPlugin entry); the REST entry as docs.amplify.aws documents existing API Gateway resources
# (aws-amplify/docs src/pages/[platform]/build-a-backend/add-aws-services/rest-api/existing-resources).
_STRINGS = {"type": "array", "items": {"type": "string"}}
GEN1_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["auth", "api"],
    "properties": {
        "UserAgent": {"type": "string"},
        "Version": {"type": "string"},
        "auth": {
            "type": "object",
            "required": ["plugins"],
            "properties": {
                "plugins": {
                    "type": "object",
                    "required": ["awsCognitoAuthPlugin"],
                    "properties": {
                        "awsCognitoAuthPlugin": {
                            "type": "object",
                            "required": ["CognitoUserPool", "Auth"],
                            "additionalProperties": False,
                            "properties": {
                                "UserAgent": {"type": "string"},
                                "Version": {"type": "string"},
                                "IdentityManager": {"type": "object"},
                                "CognitoUserPool": {
                                    "type": "object",
                                    "required": ["Default"],
                                    "properties": {
                                        "Default": {
                                            "type": "object",
                                            "additionalProperties": False,
                                            "required": ["PoolId", "AppClientId", "Region"],
                                            "properties": {
                                                "PoolId": {"type": "string"},
                                                "AppClientId": {"type": "string"},
                                                "AppClientSecret": {"type": "string"},
                                                "Region": {"type": "string"},
                                                "Endpoint": {"type": "string"},
                                            },
                                        }
                                    },
                                },
                                "Auth": {
                                    "type": "object",
                                    "required": ["Default"],
                                    "properties": {
                                        "Default": {
                                            "type": "object",
                                            "additionalProperties": False,
                                            "properties": {
                                                "authenticationFlowType": {
                                                    "enum": [
                                                        "USER_SRP_AUTH",
                                                        "USER_PASSWORD_AUTH",
                                                        "CUSTOM_AUTH_WITH_SRP",
                                                        "CUSTOM_AUTH_WITHOUT_SRP",
                                                        "USER_AUTH",
                                                    ]
                                                },
                                                "usernameAttributes": _STRINGS,
                                                "signupAttributes": _STRINGS,
                                                "verificationMechanisms": _STRINGS,
                                                "mfaConfiguration": {"enum": ["OFF", "ON", "OPTIONAL"]},
                                                "mfaTypes": {
                                                    "type": "array",
                                                    "items": {"enum": ["SMS", "TOTP", "EMAIL"]},
                                                },
                                                "passwordProtectionSettings": {
                                                    "type": "object",
                                                    "additionalProperties": False,
                                                    "properties": {
                                                        "passwordPolicyMinLength": {"type": ["integer", "string"]},
                                                        "passwordPolicyCharacters": {
                                                            "type": "array",
                                                            "items": {
                                                                "enum": [
                                                                    "REQUIRES_LOWERCASE",
                                                                    "REQUIRES_UPPERCASE",
                                                                    "REQUIRES_NUMBERS",
                                                                    "REQUIRES_SYMBOLS",
                                                                ]
                                                            },
                                                        },
                                                    },
                                                },
                                                "socialProviders": _STRINGS,
                                                "OAuth": {"type": "object"},
                                            },
                                        }
                                    },
                                },
                            },
                        }
                    },
                }
            },
        },
        "api": {
            "type": "object",
            "required": ["plugins"],
            "properties": {
                "plugins": {
                    "type": "object",
                    "required": ["awsAPIPlugin"],
                    "properties": {
                        "awsAPIPlugin": {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["endpointType", "endpoint", "region", "authorizationType"],
                                "properties": {
                                    "endpointType": {"enum": ["REST", "GraphQL"]},
                                    "endpoint": {"type": "string"},
                                    "region": {"type": "string"},
                                    "authorizationType": {
                                        "enum": [
                                            "NONE",
                                            "API_KEY",
                                            "AWS_IAM",
                                            "OPENID_CONNECT",
                                            "AMAZON_COGNITO_USER_POOLS",
                                            "AWS_LAMBDA",
                                        ]
                                    },
                                    "apiKey": {"type": "string"},
                                },
                            },
                        }
                    },
                }
            },
        },
    },
}

# amplify_outputs.json (Gen 2): the parts we write of Amplify's published schema, version "1"
# (aws-amplify/amplify-backend packages/client-config/src/client-config-schema/schema_v1.json, as
# aws-amplify/docs src/pages/[platform]/reference/amplify_outputs/amplify-outputs-schema-v1.json
# shows it), plus `auth.user_pool_endpoint`, which amplify-flutter's AuthOutputs reads since
# aws-amplify/amplify-flutter#6477 (commit f283a1bfa8, for #5784). `custom.API.<name>` is the shape
# the REST API page gives `backend.addOutput` (docs .../rest-api/set-up-rest-api).
GEN2_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["version"],
    "properties": {
        "$schema": {"type": "string"},
        "version": {"const": "1"},
        "auth": {
            "type": "object",
            "additionalProperties": False,
            "required": ["aws_region", "user_pool_id", "user_pool_client_id"],
            "properties": {
                "aws_region": {"type": "string"},
                "user_pool_id": {"type": "string"},
                "user_pool_client_id": {"type": "string"},
                "user_pool_endpoint": {"type": "string"},
                "identity_pool_id": {"type": "string"},
                "password_policy": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "min_length": {"type": "integer", "minimum": 6, "maximum": 99},
                        "require_numbers": {"type": "boolean"},
                        "require_lowercase": {"type": "boolean"},
                        "require_uppercase": {"type": "boolean"},
                        "require_symbols": {"type": "boolean"},
                    },
                },
                "oauth": {"type": "object"},
                "standard_required_attributes": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "username_attributes": {
                    "type": "array",
                    "items": {"enum": ["email", "phone_number", "username"]},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "user_verification_types": {"type": "array", "items": {"enum": ["email", "phone_number"]}},
                "unauthenticated_identities_enabled": {"type": "boolean"},
                "mfa_configuration": {"enum": ["NONE", "OPTIONAL", "REQUIRED"]},
                "mfa_methods": {"type": "array", "items": {"enum": ["SMS", "TOTP"]}},
            },
        },
        "custom": {
            "type": "object",
            "properties": {
                "API": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["endpoint", "region", "apiName"],
                        "properties": {
                            "endpoint": {"type": "string"},
                            "region": {"type": "string"},
                            "apiName": {"type": "string"},
                        },
                    },
                }
            },
        },
    },
}


def test_the_gen1_configuration_has_amplify_flutter_s_shape_and_points_at_the_stack(auth_stack):
    config = auth_stack.config_document()

    document = amplify_configuration(config)

    jsonschema.validate(document, GEN1_SCHEMA)
    plugin = document["auth"]["plugins"]["awsCognitoAuthPlugin"]
    assert plugin["CognitoUserPool"]["Default"] == {
        "PoolId": auth_stack.user_pool_id,
        "AppClientId": auth_stack.user_pool_client_id,
        "Region": "eu-west-1",
        "Endpoint": auth_stack.aws_endpoint,
    }
    assert plugin["Auth"]["Default"]["authenticationFlowType"] == "USER_SRP_AUTH"
    [api] = document["api"]["plugins"]["awsAPIPlugin"].values()
    assert api["endpoint"] == auth_stack.api_url and api["endpointType"] == "REST"


def test_amplify_outputs_match_the_gen2_schema_and_point_at_the_stack(auth_stack):
    config = auth_stack.config_document()

    document = amplify_outputs(config)

    jsonschema.validate(document, GEN2_SCHEMA)
    assert document["auth"]["user_pool_endpoint"] == auth_stack.aws_endpoint
    assert document["auth"]["user_pool_id"] == auth_stack.user_pool_id
    [api] = document["custom"]["API"].values()
    assert api["endpoint"] == auth_stack.api_url


def test_both_configurations_describe_the_template_s_pool_alike(auth_stack):
    gen1 = amplify_configuration(auth_stack.config_document())["auth"]["plugins"]["awsCognitoAuthPlugin"]
    gen2 = amplify_outputs(auth_stack.config_document())["auth"]
    settings = gen1["Auth"]["Default"]

    # Amplify Flutter maps Gen 1 to Gen 2 itself (AuthConfig.toAuthOutputs): both must agree.
    assert settings["usernameAttributes"] == [name.upper() for name in gen2["username_attributes"]] == ["EMAIL"]
    assert settings["signupAttributes"] == [name.upper() for name in gen2["standard_required_attributes"]]
    assert settings["verificationMechanisms"] == ["EMAIL"] and gen2["user_verification_types"] == ["email"]
    assert (settings["mfaConfiguration"], settings["mfaTypes"]) == ("OPTIONAL", ["TOTP"])
    assert (gen2["mfa_configuration"], gen2["mfa_methods"]) == ("OPTIONAL", ["TOTP"])
    assert (
        settings["passwordProtectionSettings"]["passwordPolicyMinLength"] == gen2["password_policy"]["min_length"] == 8
    )
    assert len(settings["passwordProtectionSettings"]["passwordPolicyCharacters"]) == 4
    assert all(gen2["password_policy"][f"require_{kind}"] for kind in ("numbers", "lowercase", "uppercase", "symbols"))


def test_the_stack_serves_the_codes_and_both_amplify_configurations(auth_stack):
    user = new_user(auth_stack, confirmed=False)
    query = urllib.parse.urlencode({"username": user.username})

    codes = http(auth_stack, "GET", f"/_local/confirmation-codes?{query}")
    gen1 = http(auth_stack, "GET", "/_local/amplifyconfiguration.json")
    gen2 = http(auth_stack, "GET", "/_local/amplify_outputs.json")

    assert (codes.status, codes.body) == (200, {"codes": confirmation_codes(user.username)})
    assert (gen1.status, gen1.body) == (200, amplify_configuration(auth_stack.config_document()))
    assert (gen2.status, gen2.body) == (200, amplify_outputs(auth_stack.config_document()))


def test_an_android_emulator_gets_configurations_that_point_at_the_host_it_reached(auth_stack):
    # The emulator reaches the laptop as 10.0.2.2: URLs naming 127.0.0.1 would be its own loopback.
    port = urllib.parse.urlsplit(auth_stack.api_url).port
    as_emulator = {"Host": f"10.0.2.2:{port}"}

    gen2 = http(auth_stack, "GET", "/_local/amplify_outputs.json", headers=as_emulator).body
    gen1 = http(auth_stack, "GET", "/_local/amplifyconfiguration.json", headers=as_emulator).body
    config = http(auth_stack, "GET", "/_local/config", headers=as_emulator).body

    aws_port = urllib.parse.urlsplit(auth_stack.aws_endpoint).port
    assert gen2 == amplify_outputs(auth_stack.config_document("10.0.2.2"))
    assert (
        gen1["auth"]["plugins"]["awsCognitoAuthPlugin"]["CognitoUserPool"]["Default"]["Endpoint"]
        == f"http://10.0.2.2:{aws_port}"
    )
    assert (config["apiUrl"], config["awsEndpoint"]) == (f"http://10.0.2.2:{port}", f"http://10.0.2.2:{aws_port}")
