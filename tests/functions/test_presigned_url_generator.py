"""presigned-url-generator: allowlist, size limit, ownership and what the URLs sign."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from local.cfn_template import OPENAPI_PATH, load_template, load_yaml
from presigned_url_generator import models
from tests.conftest import (
    CDN_DOMAIN,
    ApiClient,
    DynamoCalls,
    assert_error_shape,
    fill_images,
    load_function,
    put_receipt,
)

UPLOAD = "/receipts/{receiptId}/images/upload-url"
DOWNLOAD = "/receipts/{receiptId}/images/{imageId}/download-url"
ALLOWED = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "application/pdf": "pdf",
}


@pytest.fixture
def urls(api_env, images_bucket) -> ApiClient:
    return ApiClient(load_function("presigned_url_generator"))


def upload_url(urls: ApiClient, receipt_id: str, user: str = "user-a", **body):
    request = {"contentType": "image/jpeg", "contentLength": 2_000_000, **body}
    return urls.call("POST", UPLOAD, path_parameters={"receiptId": receipt_id}, body=request, user=user)


def signed(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_an_upload_url_signs_type_length_and_one_use_and_expires_in_10_minutes(urls, table, images_bucket):
    receipt = put_receipt(table)
    calls = DynamoCalls(urls.module.image_urls.receipts.table.client)

    response = upload_url(urls, receipt["receiptId"], contentLength=123_456)

    assert response.status == 200, response.body
    body = response.body
    assert body["method"] == "PUT" and body["expiresIn"] == 600
    parameters = signed(body["uploadUrl"])
    assert parameters["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert parameters["X-Amz-Expires"] == "600"
    assert set(parameters["X-Amz-SignedHeaders"].split(";")) == {
        "content-type",
        "content-length",
        "host",
        "if-none-match",
    }
    assert urlsplit(body["uploadUrl"]).netloc == f"{images_bucket['bucket']}.s3.eu-west-1.amazonaws.com"
    assert body["headers"] == {"Content-Type": "image/jpeg", "Content-Length": "123456", "If-None-Match": "*"}
    # No key ARN, and so no account id: the bucket's default encryption applies.
    assert "kms" not in json.dumps(body).lower() and "123456789012" not in json.dumps(body["headers"])
    assert calls.counts == {"GetItem": 1}


def test_the_key_follows_the_data_model_and_the_thumbnail_url_points_at_the_cdn(urls, table):
    receipt = put_receipt(table)

    body = upload_url(urls, receipt["receiptId"]).body

    image_id = body["imageId"]
    assert str(uuid.UUID(image_id)) == image_id
    assert body["imageKey"] == f"users/user-a/receipts/{receipt['receiptId']}/original/{image_id}.jpg"
    assert body["thumbnailUrl"] == (
        f"https://{CDN_DOMAIN}/users/user-a/receipts/{receipt['receiptId']}/thumbnail/{image_id}.jpg"
    )
    assert urlsplit(body["uploadUrl"]).path == "/" + body["imageKey"]


@pytest.mark.parametrize(("content_type", "extension"), sorted(ALLOWED.items()))
def test_every_allowed_content_type_gets_its_extension(urls, table, content_type, extension):
    receipt = put_receipt(table)

    body = upload_url(urls, receipt["receiptId"], contentType=content_type).body

    assert body["imageKey"].endswith(f".{extension}")
    assert body["headers"]["Content-Type"] == content_type


@pytest.mark.parametrize("content_type", ["image/gif", "text/html", "application/octet-stream", "image/svg+xml", ""])
def test_a_content_type_outside_the_allowlist_is_400(urls, table, content_type):
    receipt = put_receipt(table)

    assert_error_shape(upload_url(urls, receipt["receiptId"], contentType=content_type), 400, "VALIDATION_ERROR")


def test_a_file_over_10_mib_breaks_the_model_as_it_does_at_the_gateway_and_exactly_10_mib_is_fine(urls, table):
    receipt = put_receipt(table)

    too_large = upload_url(urls, receipt["receiptId"], contentLength=10 * 1024 * 1024 + 1)
    largest = upload_url(urls, receipt["receiptId"], contentLength=10 * 1024 * 1024)

    assert_error_shape(too_large, 400, "VALIDATION_ERROR")
    assert largest.status == 200


def test_the_limit_is_the_contracts_and_the_deployed_max_file_size():
    contract = load_yaml(OPENAPI_PATH)["components"]["schemas"]["UploadUrlRequest"]["properties"]["contentLength"]
    function = load_template()["Resources"]["PresignedUrlGeneratorFunction"]["Properties"]

    assert contract["maximum"] == models.MAX_UPLOAD_BYTES == 10 * 1024 * 1024
    assert int(function["Environment"]["Variables"]["MAX_FILE_SIZE"]) == models.MAX_UPLOAD_BYTES


def test_a_lower_max_file_size_is_413_above_it(urls, table, monkeypatch):
    image_urls = urls.module.image_urls
    lower = type(image_urls.settings)(**{**vars(image_urls.settings), "max_file_size": 1000})
    monkeypatch.setattr(image_urls, "settings", lower)
    receipt = put_receipt(table)

    assert_error_shape(upload_url(urls, receipt["receiptId"], contentLength=1001), 413, "PAYLOAD_TOO_LARGE")
    assert upload_url(urls, receipt["receiptId"], contentLength=1000).status == 200


@pytest.mark.parametrize(
    "file_name", ["scan\x07.jpg", "scan\u0085.jpg", "scan\u2028.jpg", "scan\ufeff.jpg", "two\nlines.jpg", "tab\t.jpg"]
)
def test_a_file_name_the_contracts_pattern_refuses_is_400(urls, table, file_name):
    contract = load_yaml(OPENAPI_PATH)["components"]["schemas"]["UploadUrlRequest"]["properties"]["fileName"]
    receipt = put_receipt(table)

    assert not re.fullmatch(contract["pattern"], file_name)  # the whole name, as API Gateway's model reads it
    assert_error_shape(upload_url(urls, receipt["receiptId"], fileName=file_name), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("file_name", ["  ", "reçu 2026 (1).jpg", "\u05e7\u05d1\u05dc\u05d4.pdf", "\U0001f9fe.png"])
def test_any_one_line_file_name_is_kept(urls, table, file_name):
    receipt = put_receipt(table)

    assert upload_url(urls, receipt["receiptId"], fileName=file_name).status == 200


@pytest.mark.parametrize("body", [{"contentLength": 0}, {"contentLength": "big"}, {"extra": 1}, {"fileName": ""}])
def test_an_invalid_request_is_400(urls, table, body):
    receipt = put_receipt(table)

    assert_error_shape(upload_url(urls, receipt["receiptId"], **body), 400, "VALIDATION_ERROR")


def test_another_users_receipt_is_404_and_an_unknown_one_too(urls, table):
    receipt = put_receipt(table, user="user-a")

    assert_error_shape(upload_url(urls, receipt["receiptId"], user="user-b"), 404, "NOT_FOUND")
    assert_error_shape(upload_url(urls, str(uuid.uuid4())), 404, "NOT_FOUND")
    assert_error_shape(upload_url(urls, "not-a-uuid"), 404, "NOT_FOUND")


def test_a_deleted_receipt_is_409(urls, table):
    receipt = put_receipt(table, status="deleted")

    response = upload_url(urls, receipt["receiptId"])

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"]["status"] == "deleted"


def test_a_file_name_is_kept_as_signed_ascii_metadata(urls, table):
    receipt = put_receipt(table)

    body = upload_url(urls, receipt["receiptId"], fileName="Απόδειξη März 2026.jpg").body

    assert body["headers"]["x-amz-meta-original-filename"] == "_M_rz_2026.jpg"
    assert "x-amz-meta-original-filename" in signed(body["uploadUrl"])["X-Amz-SignedHeaders"]


def test_the_upload_url_accepts_the_file_with_its_headers(urls, table, images_bucket):
    receipt = put_receipt(table)
    content = b"\xff\xd8\xff" + b"0" * 1000
    body = upload_url(urls, receipt["receiptId"], contentLength=len(content)).body

    response = requests.put(body["uploadUrl"], data=content, headers=body["headers"], timeout=10)

    assert response.status_code == 200
    stored = boto3.client("s3").head_object(Bucket=images_bucket["bucket"], Key=body["imageKey"])
    assert stored["ServerSideEncryption"] == "aws:kms" and stored["ContentLength"] == len(content)


# -- download -------------------------------------------------------------------------------------


def with_image(table, user: str = "user-a"):
    receipt = put_receipt(table, user=user)
    image_id = str(uuid.uuid4())
    original = f"users/{user}/receipts/{receipt['receiptId']}/original/{image_id}.heic"
    thumbnail = f"users/{user}/receipts/{receipt['receiptId']}/thumbnail/{image_id}.jpg"
    table.update_item(
        Key={"PK": receipt["PK"], "SK": receipt["SK"]},
        UpdateExpression="SET imageKeys = :o, thumbnailKeys = :t",
        ExpressionAttributeValues={":o": [original], ":t": [thumbnail]},
    )
    return receipt, image_id, original, thumbnail


def download_url(urls: ApiClient, receipt_id: str, image_id: str, user: str = "user-a"):
    return urls.call("GET", DOWNLOAD, path_parameters={"receiptId": receipt_id, "imageId": image_id}, user=user)


def test_a_download_url_is_a_10_minute_get_of_the_callers_original(urls, table):
    receipt, image_id, original, thumbnail = with_image(table)

    response = download_url(urls, receipt["receiptId"], image_id)

    assert response.status == 200, response.body
    assert response.body["imageKey"] == original and response.body["expiresIn"] == 600
    assert urlsplit(response.body["downloadUrl"]).path == "/" + original
    assert signed(response.body["downloadUrl"])["X-Amz-Expires"] == "600"
    assert response.body["thumbnailUrl"] == f"https://{CDN_DOMAIN}/{thumbnail}"


def test_a_download_url_exists_only_for_the_callers_own_listed_originals(urls, table):
    receipt, image_id, _, _ = with_image(table, user="user-a")
    other_receipt = put_receipt(table, user="user-a")

    assert_error_shape(download_url(urls, receipt["receiptId"], image_id, user="user-b"), 404, "NOT_FOUND")
    assert_error_shape(download_url(urls, receipt["receiptId"], str(uuid.uuid4())), 404, "NOT_FOUND")
    assert_error_shape(download_url(urls, other_receipt["receiptId"], image_id), 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_the_presigner_makes_exactly_the_url_boto3_would(monkeypatch, method):
    import datetime as dt

    import botocore.auth
    from botocore.config import Config

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: dt.datetime(2026, 11, 22, 8, 0, 0))
    # As in Lambda, where awscrt is absent: boto3 then signs with botocore's Python signer.
    monkeypatch.setitem(botocore.auth.AUTH_TYPE_MAPS, "s3v4-query", botocore.auth.S3SigV4QueryAuth)
    from receipt_vault import s3_presigner as presigner_module

    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="eu-west-1")
    s3 = session.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    key = "users/7d3f9a2e/receipts/3f0c9a2e-5d6b-4c1e-9f7a-2b8d4e6a1c30/original/0b7e7f5a.jpg"
    headers = {
        "Content-Type": "image/jpeg",
        "Content-Length": "42",
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:eu-west-1:123456789012:key/k",
    }
    params = {"Bucket": "bucket-name", "Key": key}
    if method == "PUT":
        params |= {
            "ContentType": "image/jpeg",
            "ContentLength": 42,
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": "arn:aws:kms:eu-west-1:123456789012:key/k",
        }
    expected = s3.generate_presigned_url(
        "put_object" if method == "PUT" else "get_object", Params=params, ExpiresIn=600
    )

    ours = presigner_module.S3Presigner(session.get_credentials(), "eu-west-1").url(
        method, "bucket-name", key, 600, headers if method == "PUT" else None
    )

    # The same URL: scheme, host, path and every signed parameter, the signature included.
    assert urlsplit(ours)[:3] == urlsplit(expected)[:3]
    assert signed(ours) == signed(expected)


def test_a_receipt_with_its_fill_of_images_gets_no_more_upload_urls(urls, table):
    from receipt_vault.images import MAX_IMAGES_PER_RECEIPT

    receipt = put_receipt(table)
    fill_images(table, receipt)

    response = upload_url(urls, receipt["receiptId"])

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert str(MAX_IMAGES_PER_RECEIPT) in response.body["message"]
