"""GDPR export: a queued job, a ZIP streamed into S3, exactly one build per job, a round trip."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from botocore.exceptions import ClientError

from receipt_vault.api import to_json
from receipt_vault.clock import utc_now
from receipt_vault.receipts.rules import to_api
from tests.conftest import ApiClient, assert_error_shape, load_function, put_receipt
from tests.functions.conftest import EXPORTS_BUCKET, make_queue, queued_messages
from tests.support import images, push
from tests.support.api_events import lambda_context

USER = "7d3f9a2e-1c4b-4e8a-9b6d-2f5e8c1a4b70"


@pytest.fixture
def export_env(api_env, exports_bucket, monkeypatch) -> str:
    queue = make_queue("receiptvault-export-test")
    monkeypatch.setenv("EXPORT_QUEUE_URL", queue)
    monkeypatch.setenv("EXPORT_MAX_IN_PROGRESS", "1")
    monkeypatch.setenv("EXPORT_DAILY_LIMIT", "10")
    return queue


@pytest.fixture
def requests(export_env) -> ApiClient:
    return ApiClient(load_function("export_request"))


@pytest.fixture
def handler(export_env) -> Any:
    return load_function("export_handler")


def add_receipt_with_images(table, images_bucket, user: str = USER, count: int = 1, **fields) -> dict[str, Any]:
    receipt = put_receipt(table, user=user, **fields)
    keys = []
    for _ in range(count):
        key = f"users/{user}/receipts/{receipt['receiptId']}/original/{uuid.uuid4()}.jpg"
        boto3.client("s3").put_object(Bucket=images_bucket["bucket"], Key=key, Body=images.jpeg())
        keys.append(key)
    table.update_item(
        Key={"PK": f"USER#{user}", "SK": f"RECEIPT#{receipt['receiptId']}"},
        UpdateExpression="SET imageKeys = :keys",
        ExpressionAttributeValues={":keys": keys},
    )
    return {**receipt, "imageKeys": keys}


def deliver(handler, queue_url: str, receive_count: int = 1) -> dict[str, Any]:
    """Hand the queued messages to the handler as Lambda's SQS poller would."""
    records = [
        {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {"ApproximateReceiveCount": str(receive_count)},
            "eventSource": "aws:sqs",
        }
        for message in queued_messages(queue_url)
    ]
    return handler.lambda_handler({"Records": records}, lambda_context()) | {"records": records}


def redeliver(handler, records: list[dict[str, Any]], receive_count: int) -> dict[str, Any]:
    again = [{**record, "attributes": {"ApproximateReceiveCount": str(receive_count)}} for record in records]
    return handler.lambda_handler({"Records": again}, lambda_context())


def the_zip(export_id: str, user: str = USER) -> zipfile.ZipFile:
    body = boto3.client("s3").get_object(Bucket=EXPORTS_BUCKET, Key=f"exports/{user}/{export_id}.zip")["Body"].read()
    return zipfile.ZipFile(io.BytesIO(body))


def stored_receipts(table, user: str = USER) -> list[dict[str, Any]]:
    items = table.query(
        KeyConditionExpression="PK = :pk AND begins_with(SK, :r)",
        ExpressionAttributeValues={":pk": f"USER#{user}", ":r": "RECEIPT#"},
    )["Items"]
    return [json.loads(to_json(to_api(item))) for item in items]


def test_an_export_is_queued_then_built_into_a_zip_that_round_trips(
    requests, handler, table, images_bucket, export_env
):
    with_images = add_receipt_with_images(table, images_bucket, count=2, storeName="MediaMarkt", totalAmount="129.99")
    put_receipt(table, user=USER, storeName="Lidl", purchaseDate="2026-03-01", notes="ünïcödé ✓")
    put_receipt(table, user="someone-else", storeName="Not mine")
    table.put_item(Item={"PK": f"USER#{USER}", "SK": "META#CATEGORIES", "custom": ["Pets"], "version": 1})

    queued = requests.call("POST", "/user/export", user=USER)
    assert queued.status == 202 and queued.body["status"] == "pending"
    assert requests.call("GET", "/user/export/{exportId}", path_parameters=queued.body, user=USER).body["status"] == (
        "pending"
    )
    result = deliver(handler, export_env)

    assert result["batchItemFailures"] == []
    status = requests.call("GET", "/user/export/{exportId}", path_parameters=queued.body, user=USER).body
    assert status["status"] == "ready"
    assert (status["receiptCount"], status["imageCount"]) == (2, 2)
    url = urlparse(status["downloadUrl"])
    assert url.path.endswith(f"exports/{USER}/{queued.body['exportId']}.zip")
    assert parse_qs(url.query)["X-Amz-Expires"] == ["86400"]
    archive = the_zip(queued.body["exportId"])
    assert archive.testzip() is None
    names = set(archive.namelist())
    assert {"manifest.json", "receipts.json", "receipts.csv", "categories.json", "settings.json"} <= names
    # Round trip: every receipt rebuilt from receipts.json equals the database.
    exported = json.loads(archive.read("receipts.json"))
    assert sorted(exported, key=lambda r: r["receiptId"]) == sorted(
        stored_receipts(table), key=lambda r: r["receiptId"]
    )
    # The images, and their checksums in the manifest.
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["schemaVersion"] == 1 and manifest["counts"] == {"receipts": 2, "images": 2, "missingImages": 0}
    checksums = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    for key in with_images["imageKeys"]:
        path = f"images/{with_images['receiptId']}/{key.rsplit('/', 1)[-1]}"
        original = boto3.client("s3").get_object(Bucket=images_bucket["bucket"], Key=key)["Body"].read()
        assert archive.read(path) == original
        assert checksums[path] == hashlib.sha256(original).hexdigest()
    for name in ("receipts.json", "receipts.csv", "categories.json", "settings.json"):
        assert checksums[name] == hashlib.sha256(archive.read(name)).hexdigest()
    assert json.loads(archive.read("categories.json"))["custom"] == ["Pets"]
    rows = list(csv.DictReader(io.StringIO(archive.read("receipts.csv").decode("utf-8-sig"))))
    assert sorted(row["storeName"] for row in rows) == ["Lidl", "MediaMarkt"]


def test_the_zip_is_encrypted_with_the_stacks_key_and_the_user_is_told(
    requests, handler, table, images_bucket, export_env
):
    applications = push.platform_applications()
    _, endpoint = push.add_device(table, applications, USER)
    put_receipt(table, user=USER)
    export_id = requests.call("POST", "/user/export", user=USER).body["exportId"]

    deliver(handler, export_env)

    head = boto3.client("s3").head_object(Bucket=EXPORTS_BUCKET, Key=f"exports/{USER}/{export_id}.zip")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(
        images_bucket["key_arn"].split("/")[-1]
    )
    [message] = push.pushes(endpoint)
    assert message["data"] == {"type": "exportReady", "exportId": export_id}
    assert "amazonaws" not in json.dumps(message)  # the URL comes from the API, never in a push


def test_a_redelivered_message_does_not_build_the_export_twice(requests, handler, table, images_bucket, export_env):
    put_receipt(table, user=USER)
    export_id = requests.call("POST", "/user/export", user=USER).body["exportId"]
    first = deliver(handler, export_env)
    s3 = boto3.client("s3")
    built = s3.head_object(Bucket=EXPORTS_BUCKET, Key=f"exports/{USER}/{export_id}.zip")["ETag"]
    calls = []
    handler.worker.builder.gateway.s3.meta.events.register(
        "before-call.s3.CreateMultipartUpload", lambda **_: calls.append(1)
    )

    again = redeliver(handler, first["records"], receive_count=2)

    assert again["batchItemFailures"] == [] and calls == []
    assert s3.head_object(Bucket=EXPORTS_BUCKET, Key=f"exports/{USER}/{export_id}.zip")["ETag"] == built


def test_a_message_for_an_export_being_built_comes_back_later(requests, handler, table, export_env):
    put_receipt(table, user=USER)
    export_id = requests.call("POST", "/user/export", user=USER).body["exportId"]
    handler.worker.jobs.claim(USER, export_id, utc_now())  # another worker, lease live

    result = deliver(handler, export_env)

    assert len(result["batchItemFailures"]) == 1


class BrokenS3:
    """The images bucket failing, as a throttled or unavailable S3 would."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get_object(self, **request: Any) -> Any:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_failing_export_is_retried_then_fails_with_a_reason_and_can_be_requested_again(
    requests, handler, table, images_bucket, export_env
):
    add_receipt_with_images(table, images_bucket)
    export_id = requests.call("POST", "/user/export", user=USER).body["exportId"]
    gateway = handler.worker.builder.gateway
    real_s3 = gateway.s3
    gateway.s3 = BrokenS3(real_s3)

    first = deliver(handler, export_env, receive_count=1)
    retried_status = requests.call("GET", "/user/export/{exportId}", path_parameters={"exportId": export_id}, user=USER)
    last = redeliver(handler, first["records"], receive_count=3)
    failed = requests.call("GET", "/user/export/{exportId}", path_parameters={"exportId": export_id}, user=USER).body

    assert len(first["batchItemFailures"]) == 1 and len(last["batchItemFailures"]) == 1  # then the DLQ
    assert retried_status.body["status"] == "pending"
    assert failed["status"] == "failed" and "SlowDown" in failed["failureReason"]
    assert "Traceback" not in failed["failureReason"]
    assert real_s3.list_multipart_uploads(Bucket=EXPORTS_BUCKET).get("Uploads", []) == []  # aborted
    assert "Contents" not in real_s3.list_objects_v2(Bucket=EXPORTS_BUCKET)

    gateway.s3 = real_s3
    again = requests.call("POST", "/user/export", user=USER)
    deliver(handler, export_env)
    assert again.status == 202 and again.body["exportId"] != export_id
    assert (
        requests.call("GET", "/user/export/{exportId}", path_parameters=again.body, user=USER).body["status"] == "ready"
    )


def test_an_image_deleted_meanwhile_is_listed_as_missing_and_the_export_still_succeeds(
    requests, handler, table, images_bucket, export_env
):
    receipt = add_receipt_with_images(table, images_bucket, count=2)
    boto3.client("s3").delete_object(Bucket=images_bucket["bucket"], Key=receipt["imageKeys"][0])
    export_id = requests.call("POST", "/user/export", user=USER).body["exportId"]

    deliver(handler, export_env)

    manifest = json.loads(the_zip(export_id).read("manifest.json"))
    assert manifest["counts"] == {"receipts": 1, "images": 1, "missingImages": 1}
    assert manifest["missingImages"] == [receipt["imageKeys"][0].rsplit("/", 1)[-1]]


def test_a_date_range_exports_only_receipts_purchased_inside_it(requests, handler, table, export_env):
    inside = put_receipt(table, user=USER, purchaseDate="2026-03-15")
    put_receipt(table, user=USER, purchaseDate="2026-05-01")
    put_receipt(table, user=USER)  # undated

    export_id = requests.call("POST", "/user/export", body={"from": "2026-03-01", "to": "2026-03-31"}, user=USER).body[
        "exportId"
    ]
    deliver(handler, export_env)

    assert [r["receiptId"] for r in json.loads(the_zip(export_id).read("receipts.json"))] == [inside["receiptId"]]


def test_an_export_cancelled_while_building_leaves_no_zip(requests, handler, table, images_bucket, export_env):
    add_receipt_with_images(table, images_bucket)
    export_id = requests.call("POST", "/user/export", user=USER).body["exportId"]
    table.delete_item(Key={"PK": f"USER#{USER}", "SK": f"EXPORT#{export_id}"})  # the account is being erased

    result = deliver(handler, export_env)

    s3 = boto3.client("s3")
    assert result["batchItemFailures"] == []
    assert s3.list_multipart_uploads(Bucket=EXPORTS_BUCKET).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=EXPORTS_BUCKET)


def test_spreadsheet_formulas_in_free_text_are_defused_in_the_csv(requests, handler, table, export_env):
    put_receipt(table, user=USER, storeName='=HYPERLINK("http://evil.example","x")', totalAmount="-5.00", tags=["+tag"])
    export_id = requests.call("POST", "/user/export", user=USER).body["exportId"]

    deliver(handler, export_env)

    [row] = list(csv.DictReader(io.StringIO(the_zip(export_id).read("receipts.csv").decode("utf-8-sig"))))
    assert row["storeName"].startswith("'=") and row["tags"] == "'+tag"
    assert row["totalAmount"] == "-5.00"  # a number stays a number


def test_asking_twice_returns_the_export_already_on_its_way(requests, export_env):
    first = requests.call("POST", "/user/export", user=USER)
    second = requests.call("POST", "/user/export", user=USER)

    assert second.body["exportId"] == first.body["exportId"]
    assert len(queued_messages(export_env)) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"from": "2026-04-01", "to": "2026-03-01"},
        {"from": "2026-02-30"},
        {"from": "yesterday"},
        {"format": "pdf"},
        # The contract's calendar, as for a purchase date: 1900 to 2199, February 29 in leap years.
        {"from": "1899-12-31"},
        {"to": "2200-01-01"},
        {"from": "2100-02-29"},
        {"from": "0000-00-00"},
        {"to": "6087-71-36"},
    ],
)
def test_invalid_export_requests_are_400_and_queue_nothing(requests, export_env, table, body):
    response = requests.call("POST", "/user/export", body=body, user=USER)

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert queued_messages(export_env) == []
    assert table.scan()["Items"] == []
    assert not any(str(value) in json.dumps(response.body) for value in body.values())  # never echoed


def test_an_export_may_span_the_whole_calendar(requests, export_env):
    response = requests.call("POST", "/user/export", body={"from": "1900-01-01", "to": "2199-12-31"}, user=USER)

    assert response.status == 202 and response.body["from"] == "1900-01-01" and response.body["to"] == "2199-12-31"


@pytest.mark.parametrize("export_id", ["0b6f3c2a-8d41-4e7f-9a15-6c2e4d8b1f30", "not-a-uuid"])
def test_an_unknown_export_is_404(requests, export_id):
    response = requests.call("GET", "/user/export/{exportId}", path_parameters={"exportId": export_id}, user=USER)

    assert_error_shape(response, 404, "NOT_FOUND")


def test_another_users_export_is_404(requests):
    export_id = requests.call("POST", "/user/export", user=USER).body["exportId"]

    response = requests.call("GET", "/user/export/{exportId}", path_parameters={"exportId": export_id}, user="intruder")

    assert_error_shape(response, 404, "NOT_FOUND")


def test_a_poison_message_is_dropped_without_failing_the_batch(handler):
    result = handler.lambda_handler(
        {"Records": [{"messageId": "m1", "body": "not json", "attributes": {}}]}, lambda_context()
    )

    assert result == {"batchItemFailures": []}
