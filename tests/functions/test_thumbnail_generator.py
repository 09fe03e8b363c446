"""thumbnail-generator: every format, orientation, idempotency, concurrency and permanent failures."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from PIL import Image, ImageFile

from tests.conftest import load_function, put_receipt
from tests.support import images
from tests.support.api_events import lambda_context


@pytest.fixture
def thumbnails(api_env, images_bucket):
    return load_function("thumbnail_generator")


def upload(bucket: str, receipt: dict[str, Any], content: bytes, extension: str, user: str = "user-a") -> str:
    key = f"users/{user}/receipts/{receipt['receiptId']}/original/{uuid.uuid4()}.{extension}"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=content, ServerSideEncryption="aws:kms")
    return key


def s3_event(bucket: str, key: str, size: int) -> dict[str, Any]:
    encoded = key.replace(" ", "+")
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": encoded, "size": size, "eTag": "x", "sequencer": "0"},
                },
            }
        ]
    }


def process(thumbnails, bucket: str, key: str, size: int | None = None) -> list[str]:
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key) if size is None else None
    event = s3_event(bucket, key, size if size is not None else head["ContentLength"])
    return thumbnails.lambda_handler(event, lambda_context())["outcomes"]


def thumbnail_of(bucket: str, original: str) -> tuple[Image.Image, dict[str, Any]]:
    key = original.replace("/original/", "/thumbnail/").rsplit(".", 1)[0] + ".jpg"
    stored = boto3.client("s3").get_object(Bucket=bucket, Key=key)
    return Image.open(io.BytesIO(stored["Body"].read())), stored


def object_exists(bucket: str, key: str) -> bool:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)
    return any(item["Key"] == key for item in listed.get("Contents", []))


def stored_receipt(table, receipt: dict[str, Any]) -> dict[str, Any]:
    return table.get_item(Key={"PK": receipt["PK"], "SK": receipt["SK"]})["Item"]


@pytest.mark.parametrize(
    ("make", "extension"),
    [
        (images.jpeg, "jpg"),
        (images.png_with_transparency, "png"),
        (images.webp, "webp"),
        (images.heic, "heic"),
        (images.pdf, "pdf"),
    ],
)
def test_every_format_becomes_a_200_by_300_jpeg_listed_on_the_receipt(
    thumbnails, table, images_bucket, make, extension
):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, make(), extension)

    assert process(thumbnails, images_bucket["bucket"], key) == ["generated"]

    thumbnail, stored = thumbnail_of(images_bucket["bucket"], key)
    assert thumbnail.format == "JPEG" and thumbnail.size == (200, 300)
    assert stored["ContentType"] == "image/jpeg"
    assert stored["ServerSideEncryption"] == "aws:kms" and stored["SSEKMSKeyId"] == images_bucket["key_arn"]
    item = stored_receipt(table, receipt)
    assert item["imageKeys"] == [key]
    assert item["thumbnailKeys"] == [key.replace("/original/", "/thumbnail/").rsplit(".", 1)[0] + ".jpg"]
    assert item["serverVersion"] == receipt["serverVersion"] + 1


def test_a_sideways_photo_comes_out_upright(thumbnails, table, images_bucket):
    receipt = put_receipt(table)
    # Stored landscape, red left and blue right; EXIF 6 says "rotate 90 degrees clockwise to view",
    # which puts red on top.
    key = upload(images_bucket["bucket"], receipt, images.jpeg(400, 200, orientation=6), "jpg")

    process(thumbnails, images_bucket["bucket"], key)

    thumbnail, _ = thumbnail_of(images_bucket["bucket"], key)
    top, bottom = thumbnail.getpixel((100, 20)), thumbnail.getpixel((100, 280))
    assert top[0] > 150 and top[2] < 100, top  # red
    assert bottom[2] > 150 and bottom[0] < 100, bottom  # blue


def test_transparency_becomes_white_not_black(thumbnails, table, images_bucket):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, images.png_with_transparency(), "png")

    process(thumbnails, images_bucket["bucket"], key)

    corner = thumbnail_of(images_bucket["bucket"], key)[0].getpixel((2, 2))
    assert min(corner) > 240


def test_a_large_jpeg_is_decoded_at_reduced_scale(thumbnails, table, images_bucket, monkeypatch):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, images.jpeg(4000, 3000, quality=60), "jpg")
    decoded_sizes = []
    original_load = ImageFile.ImageFile.load

    def spy(image):
        decoded_sizes.append(image.size)  # after draft(), the size the decoder will produce
        return original_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)

    process(thumbnails, images_bucket["bucket"], key)

    assert decoded_sizes and max(w * h for w, h in decoded_sizes) <= 1000 * 750  # never 12 MP


def test_a_redelivered_event_adds_nothing_twice(thumbnails, table, images_bucket):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, images.jpeg(), "jpg")

    first = process(thumbnails, images_bucket["bucket"], key)
    second = process(thumbnails, images_bucket["bucket"], key)

    assert (first, second) == (["generated"], ["already-done"])
    item = stored_receipt(table, receipt)
    assert item["imageKeys"] == [key] and len(item["thumbnailKeys"]) == 1
    assert item["serverVersion"] == receipt["serverVersion"] + 1


def test_concurrent_uploads_to_one_receipt_lose_nothing(thumbnails, table, images_bucket, monkeypatch):
    """Four uploads that all read the receipt before any of them writes, as concurrent ones do.

    Each write appends on the server side (list_append) rather than writing back a list it read,
    so no upload can erase another. The interleaving is staged rather than threaded: moto's
    in-process tables are not thread-safe, while DynamoDB applies each update atomically.
    """
    receipt = put_receipt(table)
    keys = [upload(images_bucket["bucket"], receipt, images.jpeg(), "jpg") for _ in range(4)]
    snapshot = thumbnails.pipeline.receipts.get("user-a", receipt["receiptId"])
    monkeypatch.setattr(thumbnails.pipeline.receipts, "get", lambda *_: dict(snapshot))  # every read is stale

    outcomes = [process(thumbnails, images_bucket["bucket"], key) for key in keys]

    assert outcomes == [["generated"]] * 4
    item = stored_receipt(table, receipt)
    assert sorted(item["imageKeys"]) == sorted(keys) and len(item["thumbnailKeys"]) == 4
    assert item["serverVersion"] == receipt["serverVersion"] + 4


@pytest.mark.parametrize(
    ("content", "extension", "reason"),
    [
        (images.corrupt_jpeg(), "jpg", "corrupt"),
        (b"GIF89a not really", "jpg", "unsupported-or-corrupt"),
        (b"%PDF-1.7 garbage", "pdf", "corrupt-pdf"),
        (images.png_declaring(30_000, 30_000), "png", "decompression-bomb"),
        (images.png_declaring(9_000, 8_000), "png", "too-many-pixels"),
        (images.jpeg(), "png", "not-the-declared-type"),
        (images.png(), "jpg", "not-the-declared-type"),
        (images.tiff(), "jpg", "not-the-declared-type"),
    ],
)
def test_an_unusable_file_is_a_permanent_failure_logged_counted_and_deleted(
    thumbnails, table, images_bucket, capsys, content, extension, reason
):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, content, extension)

    outcomes = process(thumbnails, images_bucket["bucket"], key)  # returns: no retry

    assert outcomes == [f"dropped:{reason}"]
    assert stored_receipt(table, receipt)["imageKeys"] == []
    assert not object_exists(images_bucket["bucket"], key)  # unlisted files never pile up
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"ThumbnailFailures"' in line]
    assert metrics and metrics[0]["Reason"] == reason


def test_an_oversized_upload_is_dropped_without_being_read(thumbnails, table, images_bucket, monkeypatch):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, images.jpeg(), "jpg")
    monkeypatch.setattr(thumbnails.pipeline.s3, "get_object", pytest.fail)

    assert process(thumbnails, images_bucket["bucket"], key, size=11 * 1024 * 1024) == ["dropped:too-large"]
    assert not object_exists(images_bucket["bucket"], key)


def test_a_receipt_that_is_gone_is_handled_without_a_crash(thumbnails, table, images_bucket):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, images.jpeg(), "jpg")
    table.delete_item(Key={"PK": receipt["PK"], "SK": receipt["SK"]})

    assert process(thumbnails, images_bucket["bucket"], key) == ["dropped:receipt-missing"]
    assert not object_exists(images_bucket["bucket"], key)


def test_a_receipt_removed_while_the_thumbnail_is_made_is_not_recreated(thumbnails, table, images_bucket, monkeypatch):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, images.jpeg(), "jpg")
    real_get = thumbnails.pipeline.receipts.get

    def get_then_vanish(*args):
        item = real_get(*args)
        table.delete_item(Key={"PK": receipt["PK"], "SK": receipt["SK"]})
        return item

    monkeypatch.setattr(thumbnails.pipeline.receipts, "get", get_then_vanish)

    assert process(thumbnails, images_bucket["bucket"], key) == ["dropped:receipt-missing"]
    assert "Item" not in table.get_item(Key={"PK": receipt["PK"], "SK": receipt["SK"]})
    assert not object_exists(images_bucket["bucket"], key)
    assert not object_exists(
        images_bucket["bucket"], key.replace("/original/", "/thumbnail/").rsplit(".", 1)[0] + ".jpg"
    )


@pytest.mark.parametrize("suffix", ["thumbnail/{id}.jpg", "other/{id}.jpg", "original/not-a-uuid.jpg"])
def test_keys_outside_the_original_prefix_are_ignored(thumbnails, table, images_bucket, suffix):
    receipt = put_receipt(table)
    key = f"users/user-a/receipts/{receipt['receiptId']}/" + suffix.format(id=uuid.uuid4())

    assert process(thumbnails, images_bucket["bucket"], key, size=10) == ["ignored"]


def test_an_s3_failure_raises_so_lambda_retries_the_event(thumbnails, table, images_bucket, monkeypatch):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, images.jpeg(), "jpg")

    def throttled(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "PutObject")

    monkeypatch.setattr(thumbnails.pipeline.s3, "put_object", throttled)

    with pytest.raises(ClientError):
        process(thumbnails, images_bucket["bucket"], key)
    assert stored_receipt(table, receipt)["imageKeys"] == []


def test_a_key_with_spaces_is_decoded_from_the_event(thumbnails, table, images_bucket):
    receipt = put_receipt(table)
    key = upload(images_bucket["bucket"], receipt, images.jpeg(), "jpg")

    assert process(thumbnails, images_bucket["bucket"], key) == ["generated"]  # "+" decoding is exercised


def test_an_ignored_event_never_sets_up_s3(thumbnails):
    key = f"users/user-a/receipts/{uuid.uuid4()}/thumbnail/{uuid.uuid4()}.jpg"

    assert process(thumbnails, "any-bucket", key, size=10) == ["ignored"]
    assert not thumbnails.pipeline.s3.created  # the lazy S3 client was never created


def test_an_html_original_received_by_email_gets_its_text_as_a_page_thumbnail(thumbnails, images_bucket, table):
    receipt = put_receipt(table)
    html = "<html><body><h1>Swift Rides</h1><table><tr><td>Total</td><td>€23.40</td></tr></table></body></html>"
    key = upload(images_bucket["bucket"], receipt, html.encode(), "html")
    assert process(thumbnails, images_bucket["bucket"], key) == ["generated"]
    thumbnail, stored = thumbnail_of(images_bucket["bucket"], key)
    assert thumbnail.size == (200, 300) and stored["ContentType"] == "image/jpeg"
    item = table.get_item(Key={"PK": receipt["PK"], "SK": receipt["SK"]})["Item"]
    assert item["imageKeys"] == [key] and len(item["imageFingerprints"][0]["dhash"]) == 16
