"""GDPR erasure: a confirmed request removes every trace of the user, and a rerun after a crash
at any step finishes the job."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from receipt_vault import keys
from receipt_vault.dynamo import DynamoTable, UnprocessedItemsError
from tests.conftest import TABLE_NAME, ApiClient, load_function, put_receipt
from tests.functions.conftest import EXPORTS_BUCKET, make_queue, queued_messages
from tests.support import cdn, images, push
from tests.support.api_events import api_event, lambda_context

EMAIL = "alice@example.com"
INBOUND_BUCKET = "receiptvault-inbound-test"


@pytest.fixture
def cognito_user(aws, monkeypatch) -> dict[str, str]:
    cognito = boto3.client("cognito-idp")
    pool = cognito.create_user_pool(PoolName="receiptvault-test")["UserPool"]["Id"]
    cognito.admin_create_user(UserPoolId=pool, Username=EMAIL, MessageAction="SUPPRESS")
    attributes = cognito.admin_get_user(UserPoolId=pool, Username=EMAIL)["UserAttributes"]
    sub = next(attribute["Value"] for attribute in attributes if attribute["Name"] == "sub")
    monkeypatch.setenv("USER_POOL_ID", pool)
    return {"pool": pool, "sub": sub, "username": EMAIL}


@pytest.fixture
def distribution_id(aws, monkeypatch) -> str:
    distribution_id = cdn.distribution()
    monkeypatch.setenv("THUMBNAIL_DISTRIBUTION_ID", distribution_id)
    monkeypatch.setenv("FINAL_SWEEP_AFTER_SECONDS", "3900")
    return distribution_id


@pytest.fixture
def deletion(api_env, exports_bucket, cognito_user, distribution_id, monkeypatch) -> ApiClient:
    queue = make_queue("receiptvault-account-deletion-test")
    monkeypatch.setenv("ACCOUNT_DELETION_QUEUE_URL", queue)
    boto3.client("s3").create_bucket(
        Bucket=INBOUND_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    monkeypatch.setenv("INBOUND_BUCKET", INBOUND_BUCKET)
    client = ApiClient(load_function("user_deletion"))
    client.module.SAFETY_NET_DELAY_SECONDS = 0  # so the tests can receive the safety-net message at once
    client.queue = queue
    return client


def call(client: ApiClient, method: str, resource: str, user: dict[str, str], headers: dict | None = None):
    event = api_event(method, resource, user=user["sub"], headers=headers)
    event["requestContext"]["authorizer"]["claims"]["username"] = user["username"]
    response = client.module.lambda_handler(event, lambda_context())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def token_for(client: ApiClient, user: dict[str, str]) -> str:
    status, body = call(client, "POST", "/user/account/deletion-token", user)
    assert status == 200 and body["expiresIn"] == 300
    return body["deletionToken"]


def delete_account(client: ApiClient, user: dict[str, str], token: str | None):
    headers = {"X-Deletion-Token": token} if token is not None else None
    return call(client, "DELETE", "/user/account", user, headers)


def seed_everything(table, images_bucket, user_id: str) -> dict[str, Any]:
    """Receipts, categories, settings with two devices, ledger, a ready and an in-flight export,
    and images with several versions and a delete marker."""
    s3 = boto3.client("s3")
    receipt = put_receipt(table, user=user_id, storeName="MediaMarkt")
    put_receipt(table, user=user_id, status="archived")
    table.put_item(Item={"PK": f"USER#{user_id}", "SK": "META#CATEGORIES", "custom": ["Pets"], "version": 1})
    table.put_item(Item={"PK": f"USER#{user_id}", "SK": "NOTIF#r#7#2026-12-01", "state": "sent"})
    table.put_item(Item={"PK": f"USER#{user_id}", "SK": "EXPORT#e1", "exportId": "e1", "status": "ready"})
    applications = push.platform_applications()
    endpoints = [push.add_device(table, applications, user_id)[1] for _ in range(2)]
    original = f"users/{user_id}/receipts/{receipt['receiptId']}/original/{uuid.uuid4()}.jpg"
    for _ in range(3):  # three versions
        s3.put_object(Bucket=images_bucket["bucket"], Key=original, Body=images.jpeg())
    thumbnail = original.replace("/original/", "/thumbnail/")
    s3.put_object(Bucket=images_bucket["bucket"], Key=thumbnail, Body=b"thumb")
    s3.delete_object(Bucket=images_bucket["bucket"], Key=thumbnail)  # a delete marker
    s3.put_object(Bucket=EXPORTS_BUCKET, Key=f"exports/{user_id}/e1.zip", Body=b"zip")
    in_flight = s3.create_multipart_upload(Bucket=EXPORTS_BUCKET, Key=f"exports/{user_id}/e2.zip")["UploadId"]
    # Receipts by e-mail: the address (its lookup outside the partition) and a message not yet read.
    table.put_item(Item={**keys.inbound_address_key(user_id), "tokenHash": "a" * 64})
    table.put_item(Item={**keys.inbound_lookup_key("a" * 64), "userId": user_id})
    raw_key = f"inbound/{uuid.uuid4().hex}"
    s3.put_object(Bucket=INBOUND_BUCKET, Key=raw_key, Body=b"From: a shop")
    table.put_item(Item={**keys.inbound_message_key(user_id, "d" * 40), "rawKey": raw_key, "status": "receiving"})
    return {"endpoints": endpoints, "upload": in_flight, "raw_mail": raw_key}


def seed_bystander(table, images_bucket) -> str:
    put_receipt(table, user="bystander")
    key = f"users/bystander/receipts/{uuid.uuid4()}/original/x.jpg"
    boto3.client("s3").put_object(Bucket=images_bucket["bucket"], Key=key, Body=b"keep me")
    return key


def assert_nothing_left(table, images_bucket, user: dict[str, str], seeded: dict[str, Any]) -> None:
    s3 = boto3.client("s3")
    assert [i for i in table.scan()["Items"] if i["PK"] == f"USER#{user['sub']}"] == []
    versions = s3.list_object_versions(Bucket=images_bucket["bucket"], Prefix=f"users/{user['sub']}/")
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []
    assert s3.list_objects_v2(Bucket=EXPORTS_BUCKET, Prefix=f"exports/{user['sub']}/").get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=EXPORTS_BUCKET).get("Uploads", []) == []
    assert s3.list_objects_v2(Bucket=INBOUND_BUCKET).get("KeyCount") == 0  # the raw mail not yet read
    assert not [i for i in table.scan()["Items"] if i["PK"].startswith(keys.INBOUND_ADDRESS_PREFIX)]
    with pytest.raises(ClientError, match="UserNotFoundException"):
        boto3.client("cognito-idp").admin_get_user(UserPoolId=user["pool"], Username=user["username"])
    assert all(push.endpoint(arn) is None for arn in seeded["endpoints"])
    assert f"/users/{user['sub']}/*" in cdn.invalidated_paths(os.environ["THUMBNAIL_DISTRIBUTION_ID"])


class RecordingLogger:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def info(self, message: str, extra: dict[str, Any] | None = None) -> None:
        self.lines.append({"message": message, **(extra or {})})

    def exception(self, message: str, extra: dict[str, Any] | None = None) -> None:
        self.info(message, extra)


def test_a_confirmed_deletion_erases_every_trace_and_only_that_users(deletion, table, images_bucket, cognito_user):
    seeded = seed_everything(table, images_bucket, cognito_user["sub"])
    bystander_image = seed_bystander(table, images_bucket)
    logger = deletion.module.eraser.logger = RecordingLogger()

    status, body = delete_account(deletion, cognito_user, token_for(deletion, cognito_user))

    assert status == 202 and body["status"] == "completed"
    assert body["counts"] == {
        "cognito": 1,
        "inbound": 1,
        "table": 9,
        "images": 5,
        "exports": 1,
        "endpoints": 2,
        "cdn": 1,
    }
    assert_nothing_left(table, images_bucket, cognito_user, seeded)
    assert [i["PK"] for i in table.scan()["Items"] if i["PK"].startswith("USER#")] == ["USER#bystander"]
    assert (
        boto3.client("s3").get_object(Bucket=images_bucket["bucket"], Key=bystander_image)["Body"].read() == b"keep me"
    )
    audit = [line for line in logger.lines if line["message"] == "account erased"]
    assert len(audit) == 1 and audit[0]["counts"]["table"] == 9 and audit[0]["user_hash"]
    assert cognito_user["sub"] not in json.dumps(audit) and EMAIL not in json.dumps(audit)
    assert len(queued_messages(deletion.queue)) == 1  # the safety net, which will find it done


def test_the_deletion_job_keeps_no_personal_data_once_done(deletion, table, cognito_user, images_bucket):
    seed_everything(table, images_bucket, cognito_user["sub"])

    delete_account(deletion, cognito_user, token_for(deletion, cognito_user))

    [job] = [item for item in table.scan()["Items"] if item["PK"].startswith("DELETION#")]
    assert cognito_user["sub"] not in json.dumps(job, default=str) and "username" not in job
    assert "endpointArns" not in job and job["status"] == "completed"


def test_without_the_token_header_the_request_is_400_and_nothing_is_deleted(deletion, table, cognito_user):
    put_receipt(table, user=cognito_user["sub"])

    status, body = delete_account(deletion, cognito_user, None)

    assert status == 400 and body["error"] == "VALIDATION_ERROR" and body["requestId"]
    assert len(table.scan()["Items"]) == 1


@pytest.mark.parametrize("token", ["wrong-token", ""])
def test_a_wrong_token_is_refused_and_nothing_is_deleted(deletion, table, cognito_user, token):
    token_for(deletion, cognito_user)
    put_receipt(table, user=cognito_user["sub"])

    status, body = delete_account(deletion, cognito_user, token or "x")

    assert status == 403 and body["error"] == "FORBIDDEN"
    assert boto3.client("cognito-idp").admin_get_user(UserPoolId=cognito_user["pool"], Username=EMAIL)


def test_a_token_starts_one_erasure_and_a_repeated_request_sweeps_afresh(deletion, table, cognito_user):
    token = token_for(deletion, cognito_user)
    first = delete_account(deletion, cognito_user, token)
    put_receipt(table, user=cognito_user["sub"])  # written by a request already in flight

    again = delete_account(deletion, cognito_user, token)  # the used token: a sweep needs none

    assert first[0] == again[0] == 202
    assert again[1]["counts"]["table"] == 1 and again[1]["counts"]["cognito"] == 0  # this run's, not the old ones
    assert [i for i in table.scan()["Items"] if i["PK"] == f"USER#{cognito_user['sub']}"] == []


def test_a_token_expires_after_five_minutes(deletion, table, cognito_user):
    import datetime as dt

    tokens = deletion.module.tokens
    issued = dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)
    token = tokens.issue(cognito_user["sub"], issued)["deletionToken"]

    assert not tokens.consume(cognito_user["sub"], token, issued + dt.timedelta(minutes=5, seconds=1))
    fresh = tokens.issue(cognito_user["sub"], issued)["deletionToken"]
    assert not tokens.consume(cognito_user["sub"], token, issued)  # replaced by the newer token
    assert tokens.consume(cognito_user["sub"], fresh, issued + dt.timedelta(minutes=4))


def test_another_users_token_does_not_delete_me(deletion, cognito_user, table):
    other = {**cognito_user, "sub": "mallory", "username": "mallory"}
    token = token_for(deletion, other)
    put_receipt(table, user=cognito_user["sub"])

    assert delete_account(deletion, cognito_user, token)[0] == 403
    assert len([i for i in table.scan()["Items"] if i["PK"] == f"USER#{cognito_user['sub']}"]) == 1


class CrashOnce:
    """A client whose named operation fails once (optionally only for one bucket)."""

    def __init__(self, client: Any, operation: str, bucket: str | None = None) -> None:
        self.client, self.operation, self.bucket, self.crashed = client, operation, bucket, False

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if name != self.operation:
            return real

        def maybe_crash(**request: Any) -> Any:
            if not self.crashed and (self.bucket is None or request.get("Bucket") == self.bucket):
                self.crashed = True
                raise ConnectionResetError(f"{name} lost its connection")
            return real(**request)

        return maybe_crash


CRASH_POINTS = {
    "cognito": ("cognito", "admin_delete_user", None),
    "table": ("table", "batch_write_item", None),
    "images": ("s3", "delete_objects", "images"),
    "exports": ("s3", "abort_multipart_upload", None),
    "endpoints": ("sns", "delete_endpoint", None),
    "cdn": ("cloudfront", "create_invalidation", None),
}


@pytest.mark.parametrize("step", sorted(CRASH_POINTS))
def test_a_crash_at_any_step_is_finished_by_the_queued_rerun(deletion, table, images_bucket, cognito_user, step):
    seeded = seed_everything(table, images_bucket, cognito_user["sub"])
    eraser = deletion.module.eraser
    holder, operation, bucket = CRASH_POINTS[step]
    bucket_name = images_bucket["bucket"] if bucket == "images" else None
    if holder == "table":
        eraser.store.table.client = CrashOnce(eraser.store.table.client, operation)
    else:
        setattr(eraser.gateway, holder, CrashOnce(getattr(eraser.gateway, holder), operation, bucket_name))

    status, body = delete_account(deletion, cognito_user, token_for(deletion, cognito_user))
    assert status == 202 and body["status"] == "inProgress"
    if step == "cognito":  # nothing has been erased yet, and sign-in still works until the rerun
        assert len([i for i in table.scan()["Items"] if i["PK"] == f"USER#{cognito_user['sub']}"]) > 0

    [message] = queued_messages(deletion.queue)
    record = {"messageId": message["MessageId"], "body": message["Body"], "attributes": {}}
    result = deletion.module.lambda_handler({"Records": [record]}, lambda_context())

    assert result == {"batchItemFailures": []}
    assert_nothing_left(table, images_bucket, cognito_user, seeded)


def test_a_rerun_of_a_completed_erasure_does_nothing(deletion, table, images_bucket, cognito_user):
    seed_everything(table, images_bucket, cognito_user["sub"])
    delete_account(deletion, cognito_user, token_for(deletion, cognito_user))
    [message] = queued_messages(deletion.queue)
    calls = []
    deletion.module.eraser.gateway.cognito.meta.events.register("before-call.*", lambda **_: calls.append(1))

    result = deletion.module.lambda_handler(
        {"Records": [{"messageId": "m", "body": message["Body"], "attributes": {}}]}, lambda_context()
    )

    assert result == {"batchItemFailures": []} and calls == []


def test_an_erasure_that_keeps_failing_raises_for_the_alarm_and_the_dlq(deletion, table, images_bucket, cognito_user):
    seed_everything(table, images_bucket, cognito_user["sub"])
    gateway = deletion.module.eraser.gateway
    gateway.s3 = CrashOnce(gateway.s3, "delete_objects")
    delete_account(deletion, cognito_user, token_for(deletion, cognito_user))
    gateway.s3.crashed = False  # fails again on the rerun
    [message] = queued_messages(deletion.queue)

    with pytest.raises(RuntimeError, match="1 account erasures failed"):
        deletion.module.lambda_handler(
            {"Records": [{"messageId": "m", "body": message["Body"], "attributes": {}}]}, lambda_context()
        )


def test_an_endpoint_that_moved_to_another_user_is_left_alone(deletion, table, images_bucket, cognito_user):
    seeded = seed_everything(table, images_bucket, cognito_user["sub"])
    moved = seeded["endpoints"][0]
    boto3.client("sns").set_endpoint_attributes(EndpointArn=moved, Attributes={"CustomUserData": "bob"})

    _, body = delete_account(deletion, cognito_user, token_for(deletion, cognito_user))

    assert body["counts"]["endpoints"] == 1
    assert push.endpoint(moved) is not None and push.endpoint(seeded["endpoints"][1]) is None


class PartialBatches:
    """BatchWriteItem that leaves half of every batch unprocessed the first two times."""

    def __init__(self, client: Any) -> None:
        self.client, self.throttled = client, 0

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        [(table, requests)] = RequestItems.items()
        if self.throttled < 2 and len(requests) > 1:
            self.throttled += 1
            half = len(requests) // 2
            self.client.batch_write_item(RequestItems={table: requests[:half]})
            return {"UnprocessedItems": {table: requests[half:]}}
        return self.client.batch_write_item(RequestItems=RequestItems)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_unprocessed_items_of_a_partial_batch_are_retried_until_done(table, monkeypatch):
    import receipt_vault.dynamo as dynamo

    monkeypatch.setattr(dynamo, "UNPROCESSED_BACKOFF_SECONDS", 0)
    for index in range(30):
        table.put_item(Item={"PK": "USER#u", "SK": f"RECEIPT#{index:02d}"})
    client = PartialBatches(boto3.client("dynamodb"))

    DynamoTable(client, TABLE_NAME).batch_delete([{"PK": "USER#u", "SK": f"RECEIPT#{i:02d}"} for i in range(30)])

    assert client.throttled == 2 and table.scan()["Items"] == []


def test_a_batch_that_stays_unprocessed_raises_rather_than_reporting_success(table, monkeypatch):
    import receipt_vault.dynamo as dynamo

    monkeypatch.setattr(dynamo, "UNPROCESSED_BACKOFF_SECONDS", 0)

    class AlwaysThrottled:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"UnprocessedItems": RequestItems}

    with pytest.raises(UnprocessedItemsError):
        DynamoTable(AlwaysThrottled(), TABLE_NAME).batch_delete([{"PK": "USER#u", "SK": "RECEIPT#1"}])
