"""Erasure is final: once an account's erasure has started, no token of it reaches anything.

A second phone still holds a valid access token after the first phone erased the account
(API Gateway checks only signature and expiry). Every API function refuses it, reads included;
pushes and scheduled jobs skip the account; and the final sweep, after the longest token
lifetime, erases whatever a request already in flight wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import boto3
import pytest

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp, utc_now
from tests.conftest import TABLE_NAME, ApiClient, assert_error_shape, load_function, put_receipt
from tests.functions.conftest import make_queue
from tests.support import cdn, push
from tests.support.api_events import lambda_context

ERASED = "erased-user"


def start_erasure(table, user: str = ERASED) -> None:
    """The job the erasure writes before its first step: from then on the account is erased."""
    table.put_item(Item={**keys.erasure_key(user), "status": "inProgress", "steps": {}})


def user_items(table, user: str = ERASED) -> list[dict[str, Any]]:
    return [item for item in table.scan()["Items"] if item["PK"] == f"USER#{user}"]


@pytest.fixture
def functions(api_env, images_bucket, exports_bucket, monkeypatch) -> dict[str, ApiClient]:
    applications = push.platform_applications()
    monkeypatch.setenv("FCM_PLATFORM_APPLICATION_ARN", applications["android"])
    monkeypatch.setenv("APNS_PLATFORM_APPLICATION_ARN", applications["ios"])
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    monkeypatch.setenv("EXPORT_QUEUE_URL", make_queue("receiptvault-export-test"))
    monkeypatch.setenv("EXPORT_MAX_IN_PROGRESS", "1")
    monkeypatch.setenv("EXPORT_DAILY_LIMIT", "10")
    monkeypatch.setenv("BEDROCK_MODEL_ID", "eu.anthropic.claude-haiku-4-5-20251001-v1:0")
    monkeypatch.setenv("BEDROCK_FALLBACK_MODEL_ID", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0")
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.70")
    monkeypatch.setenv("REFINE_DAILY_LIMIT", "200")
    monkeypatch.setenv("THUMBNAIL_DISTRIBUTION_ID", "E123")
    monkeypatch.setenv("FINAL_SWEEP_AFTER_SECONDS", "3900")
    monkeypatch.setenv("ACCOUNT_DELETION_QUEUE_URL", make_queue("receiptvault-account-deletion-test"))
    monkeypatch.setenv("USER_POOL_ID", "eu-west-1_TEST")
    names = [
        "receipt_crud",
        "category_handler",
        "sync_handler",
        "user_settings",
        "presigned_url_generator",
        "export_request",
        "ocr_refine",
        "user_deletion",
    ]
    return {name: ApiClient(load_function(name)) for name in names}


RECEIPT_ID = str(uuid.uuid4())
EVERY_ROUTE = [
    ("receipt_crud", "POST", "/receipts", {}, {"storeName": "Kiosk"}),
    ("receipt_crud", "GET", "/receipts", {}, None),
    ("receipt_crud", "GET", "/receipts/{receiptId}", {"receiptId": RECEIPT_ID}, None),
    ("receipt_crud", "DELETE", "/receipts/{receiptId}", {"receiptId": RECEIPT_ID}, None),
    ("category_handler", "GET", "/categories", {}, None),
    ("category_handler", "PUT", "/categories", {}, {"custom": ["Pets"], "version": 0}),
    ("sync_handler", "POST", "/sync/push", {}, {"items": [{"receiptId": RECEIPT_ID, "notes": "from phone 2"}]}),
    ("sync_handler", "POST", "/sync/pull", {}, {}),
    ("sync_handler", "POST", "/sync/full", {}, {}),
    ("user_settings", "GET", "/user/settings", {}, None),
    (
        "user_settings",
        "PUT",
        "/user/settings",
        {},
        {"reminderDaysBefore": [7], "weeklyDigestEnabled": True, "timezone": "UTC", "locale": "en", "serverVersion": 0},
    ),
    ("user_settings", "POST", "/user/devices", {}, {"platform": "android", "token": "fcm:phone-2"}),
    (
        "presigned_url_generator",
        "POST",
        "/receipts/{receiptId}/images/upload-url",
        {"receiptId": RECEIPT_ID},
        {"contentType": "image/jpeg", "contentLength": 1000},
    ),
    ("export_request", "POST", "/user/export", {}, {}),
    ("ocr_refine", "POST", "/receipts/{receiptId}/refine", {"receiptId": RECEIPT_ID}, {"ocrRawText": "LIDL 3,59"}),
    ("user_deletion", "POST", "/user/account/deletion-token", {}, None),
]


@pytest.mark.parametrize(("function", "method", "resource", "path", "body"), EVERY_ROUTE)
def test_once_erasure_has_started_every_route_refuses_the_accounts_token_and_writes_nothing(
    functions, table, function, method, resource, path, body
):
    put_receipt(table, user=ERASED)  # the request may even come before the table step
    start_erasure(table)
    before = table.scan()["Items"]

    response = functions[function].call(method, resource, path_parameters=path, body=body, user=ERASED)

    assert_error_shape(response, 401, "UNAUTHORIZED")
    assert "erased" in response.body["message"]
    assert table.scan()["Items"] == before


def test_other_accounts_are_served_with_one_extra_read_each(functions, table):
    start_erasure(table)
    calls: list[str] = []
    boto3_client = boto3.client

    def counting(*args, **kwargs):
        client = boto3_client(*args, **kwargs)
        client.meta.events.register("before-parameter-build.dynamodb", lambda model, **_: calls.append(model.name))
        return client

    boto3.client = counting
    try:
        fresh = ApiClient(load_function("receipt_crud"))  # its clients are made now, and counted
        created = fresh.call("POST", "/receipts", body={"storeName": "Kiosk"}, user="someone-else")
        calls.clear()
        fetched = fresh.call("GET", "/receipts/{receiptId}", path_parameters={"receiptId": created.body["receiptId"]},
                             user="someone-else")  # fmt: skip
    finally:
        boto3.client = boto3_client

    assert fetched.status == 200
    assert calls == ["GetItem", "GetItem"]  # the erasure record, then the receipt


def test_an_erased_account_is_refused_without_a_read_once_a_container_has_seen_it(functions, table):
    start_erasure(table)
    crud = functions["receipt_crud"]
    crud.call("GET", "/receipts", user=ERASED)
    table.delete_item(Key=keys.erasure_key(ERASED))  # even were the record gone

    assert crud.call("GET", "/receipts", user=ERASED).status == 401


def test_a_repeated_delete_is_let_through_and_sweeps(functions, table, monkeypatch):
    monkeypatch.setenv("THUMBNAIL_DISTRIBUTION_ID", cdn.distribution())
    deletion = ApiClient(load_function("user_deletion"))
    start_erasure(table)
    put_receipt(table, user=ERASED)

    response = deletion.call("DELETE", "/user/account", user=ERASED)

    assert response.status == 202 and response.body["counts"]["table"] == 1
    assert user_items(table) == []


# -- pushes and scheduled jobs -------------------------------------------------------------------


def test_no_push_reaches_an_erased_account(functions, table):
    from receipt_vault.erasure import ErasedAccounts
    from receipt_vault.push import Notification, PushSender
    from receipt_vault.push_gateway import PushGateway
    from receipt_vault.settings_store import SettingsStore

    applications = push.platform_applications()
    _, endpoint = push.add_device(table, applications, ERASED)
    start_erasure(table)
    table_ = functions["receipt_crud"].module.receipts.store.table
    sender = PushSender(PushGateway(boto3.client("sns")), SettingsStore(table_), ErasedAccounts(table_), None)

    report = sender.send(ERASED, Notification("Receipt refined", "Lidl 3.59", {"type": "refinement-complete"}))

    assert report.erased and report.sent == 0 and push.pushes(endpoint) == []


def test_the_warranty_checker_sends_nothing_to_an_erased_account_and_writes_no_ledger(api_env, table, monkeypatch):
    from receipt_vault.receipts.layout import new_receipt_item
    from receipt_vault.receipts.models import ReceiptCreate

    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    applications = push.platform_applications()
    checker = load_function("warranty_checker")
    run = dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)
    _, endpoint = push.add_device(table, applications, ERASED)
    expiry = (run.date() + dt.timedelta(days=7)).isoformat()
    request = ReceiptCreate(storeName="MediaMarkt", warrantyExpiryDate=expiry, userEditedFields=["warrantyExpiryDate"])
    table.put_item(Item=new_receipt_item(ERASED, str(uuid.uuid4()), request, run - dt.timedelta(days=40)))
    start_erasure(table)

    result = checker.lambda_handler({"time": run.strftime("%Y-%m-%dT%H:%M:%SZ")}, lambda_context())

    assert result["erased_accounts"] == 1 and result["sent"] == 0
    assert push.pushes(endpoint) == []
    assert not [item for item in user_items(table) if item["SK"].startswith("NOTIF#")]


def test_the_weekly_digest_skips_an_erased_account(api_env, table, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    applications = push.platform_applications()
    summary = load_function("weekly_summary")
    settings = ApiClient(load_function("user_settings"))
    monkeypatch.setenv("FCM_PLATFORM_APPLICATION_ARN", applications["android"])
    put_receipt(table, user=ERASED, storeName="Dyson", warrantyMonths=24, purchaseDate=utc_now().date().isoformat())
    body = {
        "reminderDaysBefore": [7],
        "weeklyDigestEnabled": True,
        "timezone": "UTC",
        "locale": "en",
        "serverVersion": 0,
    }
    _, endpoint = push.add_device(table, applications, ERASED)  # the settings keep the devices they find
    assert settings.call("PUT", "/user/settings", body=body, user=ERASED).status == 200
    start_erasure(table)

    result = summary.lambda_handler({"time": iso_timestamp(utc_now()).replace(".000", "")}, lambda_context())

    assert result["erased_accounts"] == 1 and result["sent"] == 0 and push.pushes(endpoint) == []


# -- the final sweep -----------------------------------------------------------------------------


@pytest.fixture
def deletion(api_env, exports_bucket, monkeypatch) -> ApiClient:
    queue = make_queue("receiptvault-account-deletion-test")
    monkeypatch.setenv("ACCOUNT_DELETION_QUEUE_URL", queue)
    monkeypatch.setenv("THUMBNAIL_DISTRIBUTION_ID", cdn.distribution())
    monkeypatch.setenv("FINAL_SWEEP_AFTER_SECONDS", "3900")
    pool = boto3.client("cognito-idp").create_user_pool(PoolName="receiptvault-test")["UserPool"]["Id"]
    monkeypatch.setenv("USER_POOL_ID", pool)
    client = ApiClient(load_function("user_deletion"))
    client.queue = queue
    return client


def sweep_message(due: dt.datetime, user: str = ERASED) -> dict[str, Any]:
    body = json.dumps({"userId": user, "kind": "finalSweep", "due": iso_timestamp(due)})
    return {"Records": [{"messageId": str(uuid.uuid4()), "body": body, "attributes": {}}]}


def test_the_final_sweep_erases_what_was_written_after_the_first_erasure(deletion, table, images_bucket):
    start_erasure(table)
    table.put_item(Item={**keys.erasure_key(ERASED), "status": "completed", "steps": {"cognito": 1}})
    put_receipt(table, user=ERASED, notes="written by a request in flight")
    applications = push.platform_applications()
    _, endpoint = push.add_device(table, applications, ERASED)
    late_image = f"users/{ERASED}/receipts/{uuid.uuid4()}/original/{uuid.uuid4()}.jpg"
    boto3.client("s3").put_object(Bucket=images_bucket["bucket"], Key=late_image, Body=b"jpeg")

    result = deletion.module.lambda_handler(sweep_message(utc_now() - dt.timedelta(seconds=1)), lambda_context())

    assert result == {"batchItemFailures": []}
    assert user_items(table) == []
    listed = boto3.client("s3").list_object_versions(Bucket=images_bucket["bucket"], Prefix=f"users/{ERASED}/")
    assert listed.get("Versions", []) == []
    assert push.endpoint(endpoint) is None
    job = table.get_item(Key=keys.erasure_key(ERASED))["Item"]
    assert job["finalSweepAt"] and "endpointArns" not in job


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> None:
        self.sent.append({"body": json.loads(MessageBody), "delay": DelaySeconds})


def test_a_final_sweep_not_yet_due_goes_back_on_the_queue_until_it_is(deletion, table, monkeypatch):
    queue = RecordingQueue()
    monkeypatch.setattr(deletion.module, "sqs", queue)
    start_erasure(table)
    put_receipt(table, user=ERASED)
    due = utc_now() + dt.timedelta(minutes=50)

    deletion.module.lambda_handler(sweep_message(due), lambda_context())
    deletion.module.lambda_handler(sweep_message(utc_now() + dt.timedelta(minutes=3)), lambda_context())

    assert len(user_items(table)) == 1  # not swept yet
    assert queue.sent[0]["delay"] == 900 and 179 <= queue.sent[1]["delay"] <= 181  # the longest delay, then the rest
    assert queue.sent[0]["body"] == {"userId": ERASED, "kind": "finalSweep", "due": iso_timestamp(due)}


def test_the_first_erasure_queues_the_safety_net_and_the_final_sweep_after_the_token_lifetime(
    deletion, table, monkeypatch
):
    queue = RecordingQueue()
    monkeypatch.setattr(deletion.module, "sqs", queue)
    user = "alice"
    issued = deletion.call("POST", "/user/account/deletion-token", user=user).body["deletionToken"]
    started = utc_now()

    response = deletion.call("DELETE", "/user/account", user=user, headers={"X-Deletion-Token": issued})

    assert response.status == 202 and response.body["status"] == "completed"
    rerun, final = queue.sent
    assert (rerun["body"]["kind"], rerun["delay"]) == ("rerun", 60)
    assert (final["body"]["kind"], final["delay"]) == ("finalSweep", 900)
    due = dt.datetime.fromisoformat(final["body"]["due"].replace("Z", "+00:00"))
    assert 3899 <= (due - started).total_seconds() < 3910  # past the hour an access token lives
