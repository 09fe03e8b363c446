"""What local/cognito.py relies on: moto's Cognito as it is without the patches, SRP's math
against a real client's, and the patches' own rules (idempotence, code lifetimes, TOTP window).

The first tests pin moto 5.2.5's shortcomings, seen in a fresh interpreter where nothing is
patched. When one fails, moto has changed: the patch named in its docstring may have become
redundant or wrong, and is to be looked at again.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from moto import mock_aws
from moto.cognitoidp.responses import CognitoIdpResponse
from pycognito.aws_srp import AWSSRP

from local import cognito, cognito_sign_in, srp
from local.clock import CLOCK_OFFSET_VARIABLE, clock_offset, epoch_seconds
from local.cognito import confirmation_codes, install_cognito_fidelity
from local.cognito_pools import token_lifetime

# Runs in its own interpreter against moto's server on localhost, as the local stack uses it.
_PROBE = r"""
import base64, json, logging, urllib.request
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from moto.server import ThreadedMotoServer
from pycognito.aws_srp import AWSSRP

logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
options = dict(region_name="eu-west-1", endpoint_url=f"http://{host}:{port}")
once = Config(retries={"max_attempts": 1})  # a 500 is the answer, not a reason to retry
admin = boto3.client("cognito-idp", aws_access_key_id="a", aws_secret_access_key="a", config=once, **options)
public = boto3.client("cognito-idp", config=once.merge(Config(signature_version=UNSIGNED)), **options)
pool = admin.create_user_pool(PoolName="p", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])
pool_id = pool["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="c", PreventUserExistenceErrors="ENABLED"
)["UserPoolClient"]["ClientId"]
facts = {}

def answer(call):
    try:
        result = call()
        return result.get("Status") or result.get("SecretCode") or result["ResponseMetadata"]["HTTPStatusCode"]
    except Exception as error:
        return getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__

def sign_up(email):
    public.sign_up(ClientId=client_id, Username=email, Password="Sup3r-Secret!",
                   UserAttributes=[{"Name": "email", "Value": email}])

sign_up("a@example.com")
facts["confirm_with_any_code"] = answer(
    lambda: public.confirm_sign_up(ClientId=client_id, Username="a@example.com", ConfirmationCode="000000"))
facts["resend_confirmation_code"] = answer(
    lambda: public.resend_confirmation_code(ClientId=client_id, Username="a@example.com"))
wrong = AWSSRP("a@example.com", "Wr0ng-Password!", pool_id, client_id, client=public)
tokens = wrong.authenticate_user()["AuthenticationResult"]
facts["srp_with_a_wrong_password"] = sorted(tokens)
facts["revoke_token"] = answer(lambda: public.revoke_token(ClientId=client_id, Token=tokens["RefreshToken"]))
facts["unsigned_global_sign_out"] = answer(lambda: public.global_sign_out(AccessToken=tokens["AccessToken"]))
secret = answer(lambda: public.associate_software_token(AccessToken=tokens["AccessToken"]))
facts["verify_software_token_with_any_code"] = answer(
    lambda: public.verify_software_token(AccessToken=tokens["AccessToken"], UserCode="000000"))
sign_up("b@example.com")
public.confirm_sign_up(ClientId=client_id, Username="b@example.com", ConfirmationCode="1")
other = AWSSRP("b@example.com", "x", pool_id, client_id, client=public).authenticate_user()["AuthenticationResult"]
facts["totp_secret_shared_by_users"] = secret == answer(
    lambda: public.associate_software_token(AccessToken=other["AccessToken"]))
facts["password_sign_in_of_an_unknown_user"] = answer(lambda: public.initiate_auth(
    ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": "nobody@example.com", "PASSWORD": "Sup3r-Secret!"}))

def part(token, index):
    text = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))

facts["token_kid"] = part(other["AccessToken"], 0).get("kid")
jwks_url = f"http://{host}:{port}/{pool_id}/.well-known/jwks.json"
facts["jwks_kids"] = [key["kid"] for key in json.load(urllib.request.urlopen(jwks_url))["keys"]]
try:
    public.change_password(
        AccessToken=other["AccessToken"], PreviousPassword="Wr0ng!", ProposedPassword="An0ther-Secret!")
except Exception as error:
    facts["change_password_wrong_previous"] = error.response["Error"]
    facts["b_username"] = admin.admin_get_user(UserPoolId=pool_id, Username="b@example.com")["Username"]
facts["custom_auth"] = answer(lambda: public.initiate_auth(
    ClientId=client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": "b@example.com"}))
short = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="short", AccessTokenValidity=5, IdTokenValidity=5, RefreshTokenValidity=60,
    TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "minutes"},
)["UserPoolClient"]["ClientId"]
issued = AWSSRP("b@example.com", "x", pool_id, short, client=public).authenticate_user()["AuthenticationResult"]
lifetimes = [part(issued[name], 1)["exp"] - part(issued[name], 1)["iat"] for name in ("AccessToken", "IdToken")]
facts["lifetimes_for_a_5_minute_client"] = [issued["ExpiresIn"], *lifetimes]
server.stop()
print(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def unpatched_moto() -> dict[str, Any]:
    probe = [sys.executable, "-c", _PROBE]  # this interpreter, a constant script
    done = subprocess.run(probe, capture_output=True, text=True, timeout=120, check=True)  # noqa: S603
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return facts


def test_moto_has_no_resend_confirmation_code(unpatched_moto):
    """local/cognito.py _resend_confirmation_code."""
    assert unpatched_moto["resend_confirmation_code"] == "500"  # NotImplementedError in moto


def test_moto_has_no_revoke_token(unpatched_moto):
    """local/cognito.py _revoke_token."""
    assert unpatched_moto["revoke_token"] == "500"  # NotImplementedError in moto


def test_moto_confirms_a_sign_up_with_any_code(unpatched_moto):
    """local/cognito.py _confirm_sign_up and the codes it issues."""
    assert unpatched_moto["confirm_with_any_code"] == 200


def test_moto_accepts_an_srp_claim_made_with_a_wrong_password(unpatched_moto):
    """local/cognito_sign_in.py _start_srp and _verify_password_claim."""
    assert "AccessToken" in unpatched_moto["srp_with_a_wrong_password"]


def test_moto_looks_for_the_pool_of_an_unsigned_global_sign_out_in_another_region(unpatched_moto):
    """local/cognito.py _global_sign_out and the default region install_cognito_fidelity sets."""
    assert unpatched_moto["unsigned_global_sign_out"] == "NotAuthorizedException"


def test_moto_enables_totp_with_any_code_and_one_secret_for_every_user(unpatched_moto):
    """local/cognito_sign_in.py associate_software_token, verify_software_token, totp_matches."""
    assert unpatched_moto["verify_software_token_with_any_code"] == "SUCCESS"
    assert unpatched_moto["totp_secret_shared_by_users"] is True


def test_moto_tells_an_unknown_user_apart_despite_prevent_user_existence_errors(unpatched_moto):
    """local/cognito_sign_in.py _password_sign_in (and the other PreventUserExistenceErrors paths)."""
    assert unpatched_moto["password_sign_in_of_an_unknown_user"] == "UserNotFoundException"


def test_moto_signs_with_its_bundled_key_and_publishes_it(unpatched_moto):
    """local/cognito.py _create_jwt, signing_key and the JWKS install_cognito_fidelity serves."""
    assert unpatched_moto["token_kid"] == "dummy"
    assert unpatched_moto["jwks_kids"] == ["dummy"]


def test_moto_issues_every_token_for_an_hour_whatever_the_app_client_says(unpatched_moto):
    """local/cognito.py _create_jwt and local/cognito_pools.py token_lifetime."""
    assert unpatched_moto["lifetimes_for_a_5_minute_client"] == [3600, 3600, 3600]


def test_moto_answers_a_wrong_previous_password_with_the_user_s_name(unpatched_moto):
    """local/cognito.py _change_password."""
    assert unpatched_moto["change_password_wrong_previous"] == {
        "Code": "NotAuthorizedException",
        "Message": unpatched_moto["b_username"],
    }


def test_moto_answers_custom_auth_with_nothing(unpatched_moto):
    """local/cognito_sign_in.py initiate_auth (CUSTOM_AUTH)."""
    assert unpatched_moto["custom_auth"] == 200


def test_moto_keeps_refresh_tokens_as_the_patches_read_them():
    """(client id, username, origin jti), and None once signed out: _refresh and _revoke_token
    read and write that form."""
    with mock_aws():
        client = boto3.client("cognito-idp", region_name="eu-west-1")
        pool_id = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
        from moto.cognitoidp.models import cognitoidp_backends

        pool = cognitoidp_backends["123456789012"]["eu-west-1"].user_pools[pool_id]
        token, origin_jti = pool.create_refresh_token("client", "someone")

        assert pool.refresh_tokens[token] == ("client", "someone", origin_jti)


# -- SRP against pycognito's client ---------------------------------------------------------------

POOL_ID = "eu-west-1_Example"


def _client_claim(challenge: srp.ServerChallenge, client: AWSSRP, salt: str) -> dict[str, str]:
    secret_block = base64.b64encode(b"secret block").decode()
    parameters = {
        "USER_ID_FOR_SRP": "user-id",
        "SALT": salt,
        "SRP_B": f"{challenge.big_b:x}",
        "SECRET_BLOCK": secret_block,
    }
    return client.process_challenge(parameters, {"USERNAME": "user-id"})


@pytest.mark.parametrize("password, proves", [("Sup3r-Secret!", True), ("Sup3r-Secret?", False)])
def test_the_server_accepts_pycognito_s_claim_only_for_the_right_password(password, proves):
    client = AWSSRP("user-id", password, POOL_ID, "client", client=object())
    salt = srp.new_salt()
    challenge = srp.ServerChallenge.start(
        client.large_a_value, srp.password_verifier("Example", "user-id", "Sup3r-Secret!", salt)
    )

    claim = _client_claim(challenge, client, salt)
    expected = challenge.expected_claim("Example", "user-id", b"secret block", claim["TIMESTAMP"])

    assert (expected == base64.b64decode(claim["PASSWORD_CLAIM_SIGNATURE"])) is proves


def test_the_group_is_pycognito_s():
    from pycognito import aws_srp

    assert (int(aws_srp.N_HEX, 16), int(aws_srp.G_HEX, 16)) == (srp.N, srp.G)


@pytest.mark.parametrize("value, text", [(0x7F, "7f"), (0x80, "0080"), (0xABC, "0abc"), (0x1234, "1234")])
def test_numbers_are_hashed_as_signed_big_endian_hex(value, text):
    assert srp.padded_hex(value) == text


def test_a_salt_reads_the_same_as_text_and_as_a_number():
    for _ in range(200):
        salt = srp.new_salt()

        assert len(salt) == 32 and 0x10 <= int(salt[:2], 16) < 0x80
        assert srp.padded_hex(int(salt, 16)) == salt


@pytest.mark.parametrize("big_a", [0, srp.N, 2 * srp.N])
def test_an_srp_a_of_zero_mod_n_is_refused(big_a):
    with pytest.raises(ValueError):
        srp.ServerChallenge.start(big_a, 5)


# -- the patches' own rules -----------------------------------------------------------------------


def test_installing_twice_patches_once_and_keeps_the_last_region():
    install_cognito_fidelity("eu-west-1")
    first = CognitoIdpResponse.initiate_auth

    install_cognito_fidelity("eu-west-1")

    assert CognitoIdpResponse.initiate_auth is first is cognito_sign_in.initiate_auth
    assert CognitoIdpResponse.default_region == "eu-west-1"


@pytest.fixture
def pool() -> Any:
    """An email pool in process (mock_aws), patched: its client and app client id."""
    install_cognito_fidelity("eu-west-1")
    with mock_aws():
        client = boto3.client("cognito-idp", region_name="eu-west-1")
        pool_id = client.create_user_pool(
            PoolName="p",
            UsernameAttributes=["email"],
            AutoVerifiedAttributes=["email"],
            UsernameConfiguration={"CaseSensitive": False},
            AccountRecoverySetting={"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
        )["UserPool"]["Id"]
        client_id = client.create_user_pool_client(UserPoolId=pool_id, ClientName="c")["UserPoolClient"]["ClientId"]
        client.sign_up(
            ClientId=client_id,
            Username="someone@example.com",
            Password="Sup3r-Secret!",
            UserAttributes=[{"Name": "email", "Value": "someone@example.com"}],
        )
        yield client, client_id


def _later(monkeypatch, seconds: float) -> None:
    now = epoch_seconds()
    monkeypatch.setattr(cognito, "epoch_seconds", lambda: now + seconds)


def _error(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_a_sign_up_code_expires_after_a_day(pool, monkeypatch):
    client, client_id = pool
    [sent] = confirmation_codes("someone@example.com")
    _later(monkeypatch, 24 * 3600 + 60)

    assert (
        _error(
            lambda: client.confirm_sign_up(
                ClientId=client_id, Username="someone@example.com", ConfirmationCode=sent["code"]
            )
        )
        == "ExpiredCodeException"
    )


def test_a_reset_code_expires_after_an_hour(pool, monkeypatch):
    client, client_id = pool
    [sent] = confirmation_codes("someone@example.com")
    client.confirm_sign_up(ClientId=client_id, Username="someone@example.com", ConfirmationCode=sent["code"])
    client.forgot_password(ClientId=client_id, Username="someone@example.com")
    code = confirmation_codes("someone@example.com")[-1]["code"]
    _later(monkeypatch, 3600 + 60)

    assert (
        _error(
            lambda: client.confirm_forgot_password(
                ClientId=client_id, Username="someone@example.com", ConfirmationCode=code, Password="An0ther-Secret!"
            )
        )
        == "ExpiredCodeException"
    )


def test_a_reset_never_requested_is_an_expired_code(pool):
    client, client_id = pool
    [sent] = confirmation_codes("someone@example.com")
    client.confirm_sign_up(ClientId=client_id, Username="someone@example.com", ConfirmationCode=sent["code"])

    assert (
        _error(
            lambda: client.confirm_forgot_password(
                ClientId=client_id,
                Username="someone@example.com",
                ConfirmationCode="123456",
                Password="An0ther-Secret!",
            )
        )
        == "ExpiredCodeException"
    )


def test_a_user_is_found_in_any_case_and_only_known_names_have_codes(pool):
    client, client_id = pool
    [sent] = confirmation_codes("SomeOne@Example.com")

    client.confirm_sign_up(ClientId=client_id, Username="SOMEONE@example.com", ConfirmationCode=sent["code"])

    assert dt.datetime.fromisoformat(sent["time"].replace("Z", "+00:00")).tzinfo is not None
    assert confirmation_codes("nobody@example.com") == []


def test_a_reset_code_works_once(pool):
    client, client_id = pool
    [sent] = confirmation_codes("someone@example.com")
    client.confirm_sign_up(ClientId=client_id, Username="someone@example.com", ConfirmationCode=sent["code"])
    client.forgot_password(ClientId=client_id, Username="someone@example.com")
    code = confirmation_codes("someone@example.com")[-1]["code"]

    def reset() -> Any:
        return client.confirm_forgot_password(
            ClientId=client_id, Username="someone@example.com", ConfirmationCode=code, Password="An0ther-Secret!"
        )

    reset()
    assert _error(reset) == "CodeMismatchException"


def test_a_flow_the_app_client_does_not_allow_is_refused(pool):
    client, client_id = pool  # an app client without ExplicitAuthFlows: SRP, not USER_PASSWORD_AUTH

    assert (
        _error(
            lambda: client.initiate_auth(
                ClientId=client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "someone@example.com", "PASSWORD": "Sup3r-Secret!"},
            )
        )
        == "InvalidParameterException"
    )


def test_a_password_sign_in_the_app_client_does_not_allow_is_refused_in_cognito_s_words(pool):
    client, client_id = pool

    with pytest.raises(ClientError) as caught:
        client.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "someone@example.com", "PASSWORD": "Sup3r-Secret!"},
        )

    assert caught.value.response["Error"]["Message"] == "USER_PASSWORD_AUTH flow not enabled for this client"


def test_custom_auth_allowed_by_default_needs_the_pool_s_trigger(pool):
    client, client_id = pool  # no ExplicitAuthFlows: Cognito allows SRP, refresh and custom auth

    with pytest.raises(ClientError) as caught:
        client.initiate_auth(ClientId=client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": "someone"})

    assert caught.value.response["Error"] == {
        "Code": "InvalidParameterException",
        "Message": "Custom auth lambda trigger is not configured for the user pool.",
    }


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def test_tokens_live_as_long_as_the_app_client_says_in_its_units(pool, monkeypatch):
    client, _ = pool
    [sent] = confirmation_codes("someone@example.com")
    pool_id = client.list_user_pools(MaxResults=1)["UserPools"][0]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="short",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AccessTokenValidity=5,
        IdTokenValidity=2,
        RefreshTokenValidity=1,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"},
    )["UserPoolClient"]["ClientId"]
    client.confirm_sign_up(ClientId=client_id, Username="someone@example.com", ConfirmationCode=sent["code"])

    issued = client.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "someone@example.com", "PASSWORD": "Sup3r-Secret!"},
    )["AuthenticationResult"]
    access, identity = _claims(issued["AccessToken"]), _claims(issued["IdToken"])

    def renew() -> Any:
        return client.initiate_auth(
            ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": issued["RefreshToken"]}
        )

    assert issued["ExpiresIn"] == 300
    assert (access["exp"] - access["iat"], identity["exp"] - identity["iat"]) == (300, 7200)
    assert renew()["AuthenticationResult"]["ExpiresIn"] == 300
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, str(clock_offset().days + 1))
    with pytest.raises(ClientError) as caught:
        renew()
    assert caught.value.response["Error"]["Message"] == "Refresh Token has expired"


@pytest.mark.parametrize(
    "config, token_use, seconds",
    [
        ({}, "access", 3600),
        ({}, "id", 3600),
        ({}, "refresh", 30 * 86400),
        ({"AccessTokenValidity": 2}, "access", 7200),  # hours, when TokenValidityUnits names none
        ({"RefreshTokenValidity": 10}, "refresh", 10 * 86400),  # days
        ({"IdTokenValidity": 900, "TokenValidityUnits": {"IdToken": "seconds"}}, "id", 900),
    ],
)
def test_token_lifetimes_default_as_cognito_s(config, token_use, seconds):
    client = SimpleNamespace(extended_config=config)

    assert token_lifetime(client, token_use) == seconds  # type: ignore[arg-type]


def test_the_signing_key_is_made_once_per_process_and_only_its_public_half_is_published():
    [published] = cognito.json_web_key_set()["keys"]

    assert cognito.signing_key() is cognito.signing_key()
    assert published["kid"] == cognito.signing_key().kid != "dummy"
    assert not {"d", "p", "q"} & published.keys()


def test_a_totp_code_is_accepted_one_step_either_side_of_now():
    secret = base64.b32encode(b"0123456789abcdef0123").decode().rstrip("=")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    generator = TOTP(key, 6, SHA1(), 30, enforce_key_length=False)  # noqa: S303 (RFC 6238's)
    now = time.time()
    accepted = {generator.generate(int(now + 30 * step)).decode() for step in (-1, 0, 1)}

    assert all(cognito_sign_in.totp_matches(secret, code) for code in accepted)
    stale = generator.generate(int(now - 150)).decode()
    assert cognito_sign_in.totp_matches(secret, stale) is (stale in accepted)
    assert not cognito_sign_in.totp_matches(secret, "12345") and not cognito_sign_in.totp_matches(None, "123456")
