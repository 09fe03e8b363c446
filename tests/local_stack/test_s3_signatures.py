"""The local S3 checks signatures as S3 does: a pre-signed URL allows exactly what it signs."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import Credentials

from local.emulation import LOCAL_CREDENTIALS, StrictMotoServer
from receipt_vault.s3_presigner import S3Presigner

BUCKET = "signatures-test"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = StrictMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client(url).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    yield url
    server.stop()


def client(endpoint: str, key: str = "local", secret: str = "local") -> Any:
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4"),  # boto3 pre-signs with SigV2 by default; S3 is retiring it
    )


def presigned_put(endpoint: str, key: str, body: bytes, expires_in: int = 300) -> tuple[str, dict[str, str]]:
    """An upload URL as the app signs it (receipt_vault.s3_presigner)."""
    headers = {"Content-Type": "image/jpeg", "Content-Length": str(len(body)), "If-None-Match": "*"}
    credentials = Credentials(*next(iter(LOCAL_CREDENTIALS.items())))
    presigner = S3Presigner(type("Frozen", (), {"get_frozen_credentials": lambda self: credentials})(), REGION)
    presigner._endpoint = endpoint
    return presigner.url("PUT", BUCKET, key, expires_in, headers), headers


def send(url: str, method: str = "PUT", body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_presigned_upload_as_signed_is_stored_and_a_replay_finds_the_key_taken(endpoint):
    body = b"\xff\xd8 a photo"
    url, headers = presigned_put(endpoint, "users/u/receipts/r/original/1.jpg", body)

    assert send(url, body=body, headers=headers)[0] == 200
    assert send(url, body=body, headers=headers)[0] == 412  # If-None-Match: * is signed
    assert client(endpoint).get_object(Bucket=BUCKET, Key="users/u/receipts/r/original/1.jpg")["Body"].read() == body


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda body, headers: (body * 100, {**headers, "Content-Length": str(len(body) * 100)}), id="length"
        ),
        pytest.param(lambda body, headers: (body, {**headers, "Content-Type": "text/html"}), id="type"),
        pytest.param(
            lambda body, headers: (body, {k: v for k, v in headers.items() if k != "If-None-Match"}),
            id="no-if-none-match",
        ),
    ],
)
def test_an_upload_that_differs_from_what_was_signed_is_refused(endpoint, tamper):
    body = b"\xff\xd8 a photo"
    url, headers = presigned_put(endpoint, f"tampered/{tamper}.jpg", body)
    sent_body, sent_headers = tamper(body, headers)

    status, answer = send(url, body=sent_body, headers=sent_headers)

    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer
    assert client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix="tampered/").get("KeyCount") == 0


def test_a_url_for_one_key_writes_no_other(endpoint):
    body = b"photo"
    url, headers = presigned_put(endpoint, "users/me/receipts/r/original/2.jpg", body)

    status, answer = send(url.replace("/users/me/", "/users/victim/"), body=body, headers=headers)

    assert status == 403 and b"SignatureDoesNotMatch" in answer


def test_an_expired_url_is_refused(endpoint, monkeypatch):
    import botocore.auth

    issued = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: issued)
    body = b"late"
    url, headers = presigned_put(endpoint, "late.jpg", body, expires_in=300)

    status, answer = send(url, body=body, headers=headers)

    assert status == 403 and b"Request has expired" in answer


def test_an_unsigned_request_to_a_bucket_is_denied(endpoint):
    status, answer = send(f"{endpoint}/{BUCKET}/users/victim/receipts/r/original/3.jpg", body=b"x")
    listed = send(f"{endpoint}/{BUCKET}", method="GET")

    assert status == 403 and b"<Code>AccessDenied</Code>" in answer
    assert listed[0] == 403


def test_an_unknown_access_key_or_a_wrong_secret_is_refused(endpoint):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as unknown:
        client(endpoint, key="someone-else").list_objects_v2(Bucket=BUCKET)
    with pytest.raises(ClientError) as wrong:
        client(endpoint, secret="guessed").list_objects_v2(Bucket=BUCKET)

    assert unknown.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert wrong.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_keys_with_spaces_and_unicode_sign_and_verify(endpoint):
    s3 = client(endpoint)
    key = "users/u/receipts/r/original/Quittung März 2026+final.jpg"

    s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=60)

    assert send(url, method="GET") == (200, b"x")


def test_a_sigv2_url_is_refused_as_s3_refuses_it_for_new_buckets(endpoint):
    legacy = boto3.client(
        "s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="local", aws_secret_access_key="local"
    )
    url = legacy.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "any"}, ExpiresIn=60)

    status, answer = send(url, method="GET")

    assert "AWSAccessKeyId=" in url and status == 400 and b"<Code>InvalidRequest</Code>" in answer


def test_a_bearer_token_added_to_a_presigned_upload_is_refused_as_s3_refuses_it(endpoint):
    # An HTTP interceptor that adds the app's token to every request: S3 allows one auth mechanism.
    body = b"photo"
    url, headers = presigned_put(endpoint, "intercepted.jpg", body)

    status, answer = send(url, body=body, headers={**headers, "Authorization": "Bearer eyJ.app.token"})

    assert status == 400 and b"<Code>InvalidArgument</Code>" in answer and b"Only one auth mechanism" in answer
    assert client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix="intercepted").get("KeyCount") == 0


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("Bearer x", b"InvalidArgument"),
        ("AWS local:c2lnbmF0dXJl", b"InvalidRequest"),
        ("Basic bG9jYWw6bG9jYWw=", b"InvalidArgument"),
    ],
)
def test_an_authorization_header_other_than_sigv4_reaches_no_bucket(endpoint, authorization, code):
    status, answer = send(
        f"{endpoint}/{BUCKET}/users/victim/x.jpg", body=b"x", headers={"Authorization": authorization}
    )
    listed = send(f"{endpoint}/{BUCKET}", method="GET", headers={"Authorization": authorization})

    assert status == 400 and b"<Code>" + code in answer
    assert listed[0] == 400
    assert client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix="users/victim/").get("KeyCount") == 0


def test_a_presigned_url_scoped_to_another_service_or_malformed_is_refused_in_s3s_words(endpoint):
    s3 = client(endpoint)
    s3.put_object(Bucket=BUCKET, Key="scoped.txt", Body=b"secret")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "scoped.txt"}, ExpiresIn=60)

    other_service = send(url.replace("%2Fs3%2Faws4_request", "%2Fsqs%2Faws4_request"), method="GET")
    bad_expiry = send(url.replace("X-Amz-Expires=60", "X-Amz-Expires=soon"), method="GET")
    bad_date = send(url.replace("X-Amz-Date=", "X-Amz-Date=yesterday"), method="GET")

    assert other_service[0] == 400 and b"incorrect service" in other_service[1]
    for status, answer in (bad_expiry, bad_date):
        assert status == 400 and b"<Code>AuthorizationQueryParametersError</Code>" in answer


@pytest.mark.parametrize(
    "headers", [{"Authorization": "x"}, {"X-Amz-Target": "x"}, {"Authorization": "AWS4-HMAC-SHA256 x"}]
)
def test_headers_the_emulator_cannot_parse_are_refused_in_s3s_words_not_a_500(endpoint, headers):
    status, answer = send(f"{endpoint}/{BUCKET}/users/victim/z.jpg", body=b"x", headers=headers)

    assert status in (400, 403) and answer.startswith(b"<?xml")


def test_a_request_signed_for_another_service_sent_to_a_bucket_is_refused_as_s3_refuses_it(endpoint):
    authorization = (
        "AWS4-HMAC-SHA256 Credential=local/20261201/eu-west-1/sqs/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
    )
    status, answer = send(
        f"{endpoint}/{BUCKET}/users/victim/q.jpg", body=b"x", headers={"Authorization": authorization}
    )

    assert status == 400 and b"AuthorizationHeaderMalformed" in answer and b'incorrect service "sqs"' in answer


def test_an_unsigned_request_cannot_pass_as_another_service(endpoint):
    as_other = send(f"{endpoint}/{BUCKET}/users/victim/y.jpg", body=b"x", headers={"X-Amz-Target": "Nothing.Known"})
    every_bucket = send(f"{endpoint}/", method="GET")

    assert as_other[0] == 403 and every_bucket[0] == 403


def test_the_emulator_answers_no_foreign_host_no_foreign_web_origin_and_not_motos_own_api(endpoint):
    port = endpoint.rsplit(":", 1)[1]
    pool_call = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools",
    }
    rebound = send(f"{endpoint}/", method="GET", headers={"Host": f"attacker.example:{port}"})
    foreign = send(
        f"{endpoint}/",
        method="POST",
        body=b'{"MaxResults": 5}',
        headers={**pool_call, "Origin": "https://attacker.example"},
    )
    preflight = send(
        f"{endpoint}/",
        method="OPTIONS",
        headers={"Origin": "http://192.168.1.50", "Access-Control-Request-Method": "POST"},
    )
    flutter_web = send(
        f"{endpoint}/",
        method="POST",
        body=b'{"MaxResults": 5}',
        headers={**pool_call, "Origin": "http://localhost:53412"},
    )
    dump = send(f"{endpoint}/moto-api/data.json", method="GET")
    reset = send(f"{endpoint}/moto-api/reset", method="POST", body=b"", headers={"Content-Type": "text/plain"})

    assert [rebound[0], foreign[0], preflight[0], dump[0], reset[0]] == [403] * 5
    assert flutter_web[0] == 200  # a web app served from this machine may call Cognito
    assert client(endpoint).head_bucket(Bucket=BUCKET)["ResponseMetadata"]["HTTPStatusCode"] == 200  # not reset


def test_other_services_pass_unsigned_as_the_emulator_needs(endpoint):
    idp = boto3.client(
        "cognito-idp", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x"
    )

    assert "UserPools" in idp.list_user_pools(MaxResults=5)
