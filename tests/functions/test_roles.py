"""Every function's role, as template.yaml writes it, against what its code really does.

The handlers of these tests run under their roles (tests/conftest.py's `with_role`, local.iam).
Two kinds of test:
  - mutations: the template with one permission taken away makes the handler fail, with the
    denial of exactly that action, and the real template makes the same call succeed: the
    guard is on, and the permission is needed;
  - coverage: representative invocations of each function, recorded, show every Allow
    statement of its role, and every action of each, allowing a request no other statement
    allows (the Lambda service's own requests, logs, traces, event sources and destinations,
    from `local.iam.runtime_requests`, count too, and must all be allowed). What the code never
    needs is a finding, listed below with its reason, and checked to stay exactly so.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

import tests.conftest as harness  # the module whose ROLES_TEMPLATE `with_role` reads
from local import iam
from local.cfn_template import load_template
from local.iam.policy import Request, action_matches
from local.iam.roles import role_logical_id
from receipt_vault.clients import LazyClient
from receipt_vault.images import MAX_IMAGES_PER_RECEIPT
from receipt_vault.scheduled_jobs import RunIncompleteError
from tests.conftest import TABLE_NAME, ApiClient, load_function, put_receipt
from tests.functions import test_calendar_feed as calendar
from tests.functions import test_export as exports
from tests.functions import test_inbound_mail as inbound
from tests.functions import test_ocr_refine as ocr
from tests.functions import test_platform_application as platform
from tests.functions import test_presigned_url_generator as presigned
from tests.functions import test_receipt_crud as crud
from tests.functions import test_thumbnail_generator as thumbnails
from tests.functions import test_user_deletion as deletion
from tests.functions import test_user_settings as settings
from tests.functions import test_warranty_checker as warranties
from tests.functions import test_weekly_summary as digests
from tests.functions.conftest import queued_messages
from tests.support import emails, images, push
from tests.support.api_events import lambda_context
from tests.support.bedrock import extraction, tool_answer

TEMPLATE = load_template()

# Fixtures of the functions' own test modules, reused here under these names.
export_env = exports.export_env
inbound_env = inbound.inbound_env
cloudformation, provisioner = platform.cloudformation, platform.provisioner
cognito_user, distribution_id, deletion_client = deletion.cognito_user, deletion.distribution_id, deletion.deletion


def answer_from_aws(client: Any, operation: str, *answers: dict[str, Any]) -> None:
    """Answers for an operation moto does not emulate (Bedrock's Converse, Textract's
    AnalyzeExpense): each call is authorised by the guard first, as any other (before-call),
    and then gets the next answer instead of being sent."""
    queue = list(answers)
    respond_instead(client, operation, lambda _: (200, queue.pop(0)))


def fail_from_aws(client: Any, operation: str, naming: str, code: str) -> None:
    """AWS failing the calls whose parameters name `naming` (a throttled push to one device),
    after the guard has authorised them; the other calls go to moto."""
    failure = {"Error": {"Code": code, "Message": "Rate exceeded"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    respond_instead(client, operation, lambda request: (400, failure) if naming in str(request["body"]) else None)


def respond_instead(client: Any, operation: str, respond: Callable[[dict[str, Any]], Any]) -> None:
    """The client's sending step (after every hook, the guard's included) replaced for one
    operation: `respond(request)` gives (status, parsed response), or None to send it."""
    if isinstance(client, LazyClient):  # a client made on first use: stub the client it stands for
        client = client.instance()
    send = client._make_request

    def make_request(model: Any, request: dict[str, Any], context: dict[str, Any]) -> Any:
        answer = respond(request) if model.name == operation else None
        if answer is None:
            return send(model, request, context)
        status, parsed = answer
        return AWSResponse(request["url"], status, HTTPHeaders(), None), parsed

    client._make_request = make_request


def converse_answer(**overrides: Any) -> dict[str, Any]:
    return {**tool_answer(extraction(**overrides)), "metrics": {"latencyMs": 900}}


def denials(captured: str) -> list[dict[str, Any]]:
    """The guard's denial lines among what a test wrote on stderr."""
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "AccessDenied"]


# -- mutations --------------------------------------------------------------------------------------


def without(role: str, sid: str, action: str) -> dict[str, Any]:
    """A copy of the template whose role lacks one action of one statement (the statement
    itself when that was its only action)."""
    template = copy.deepcopy(TEMPLATE)
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        statements = policy["PolicyDocument"]["Statement"]
        for statement in statements:
            if statement.get("Sid") != sid:
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert action in actions, (role, sid, actions)
            if actions == [action]:
                statements.remove(statement)
            else:
                statement["Action"] = [a for a in actions if a != action]
            return template
    raise KeyError(f"{role} has no statement {sid}")


@pytest.fixture
def roles(monkeypatch) -> Callable[[dict[str, Any]], None]:
    """Run the handlers under this template's roles from now on."""
    return lambda template: monkeypatch.setattr(harness, "ROLES_TEMPLATE", template)


def assert_denied(capsys, role: str, action: str) -> None:
    lines = denials(capsys.readouterr().err)
    assert lines, "nothing was denied"
    assert {(line["role"], line["action"]) for line in lines} == {(role, action)}, lines


def test_receipt_crud_without_put_item_cannot_create_a_receipt(api_env, table, roles, capsys):
    client = ApiClient(load_function("receipt_crud"))
    roles(without("ReceiptCrudRole", "ReceiptItems", "dynamodb:PutItem"))

    harness.assert_error_shape(client.call("POST", "/receipts", body=crud.a_receipt()), 500, "INTERNAL_ERROR")
    assert_denied(capsys, "ReceiptCrudRole", "dynamodb:PutItem")
    assert table.scan()["Items"] == []

    roles(TEMPLATE)
    assert client.call("POST", "/receipts", body=crud.a_receipt()).status == 201


def test_sync_without_the_erasure_record_grant_serves_no_request(api_env, table, roles, capsys, monkeypatch):
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    client = ApiClient(load_function("sync_handler"))
    roles(without("SyncHandlerRole", "ErasureMarker", "dynamodb:GetItem"))

    # Its only GetItem: every request asks whether the account is erased (a DELETION# item).
    harness.assert_error_shape(client.call("POST", "/sync/pull", body={}), 500, "INTERNAL_ERROR")
    assert_denied(capsys, "SyncHandlerRole", "dynamodb:GetItem")

    roles(TEMPLATE)
    assert client.call("POST", "/sync/pull", body={}).status == 200


def test_upload_urls_without_kms_generate_data_key_are_refused_when_signed(
    api_env, images_bucket, table, roles, capsys
):
    client = ApiClient(load_function("presigned_url_generator"))
    receipt = put_receipt(table)
    roles(without("PresignedUrlGeneratorRole", "EncryptAndDecryptOriginals", "kms:GenerateDataKey"))

    # The URL would upload into the bucket's SSE-KMS default: S3 asks KMS with the signer's role.
    harness.assert_error_shape(presigned.upload_url(client, receipt["receiptId"]), 500, "INTERNAL_ERROR")
    assert_denied(capsys, "PresignedUrlGeneratorRole", "kms:GenerateDataKey")

    roles(TEMPLATE)
    assert presigned.upload_url(client, receipt["receiptId"]).status == 200


def test_thumbnails_without_s3_put_object_fail_the_event_and_list_nothing(api_env, images_bucket, table, roles, capsys):
    generator = load_function("thumbnail_generator")
    bucket = images_bucket["bucket"]
    receipt = put_receipt(table)
    key = thumbnails.upload(bucket, receipt, images.jpeg(), "jpg")
    roles(without("ThumbnailGeneratorRole", "WriteThumbnails", "s3:PutObject"))

    with pytest.raises(ClientError, match="AccessDenied"):  # raised: Lambda retries, then the DLQ
        thumbnails.process(generator, bucket, key)
    assert_denied(capsys, "ThumbnailGeneratorRole", "s3:PutObject")
    assert not thumbnails.object_exists(bucket, key.replace("/original/", "/thumbnail/").rsplit(".", 1)[0] + ".jpg")
    assert thumbnails.stored_receipt(table, receipt)["imageKeys"] == []

    roles(TEMPLATE)
    assert thumbnails.process(generator, bucket, key) == ["generated"]


def test_refinement_without_the_foundation_model_grant_fails_behind_the_inference_profile(
    refine_fn, table, roles, capsys
):
    receipt = ocr.ocr_receipt(table)
    answer_from_aws(refine_fn.module.refinements.gateway.bedrock, "Converse", converse_answer())
    roles(without("OcrRefineRole", "TheirFoundationModelsThroughTheProfilesOnly", "bedrock:InvokeModel"))

    # The profile itself is still allowed; the model it routes to, with the caller's role, is not.
    harness.assert_error_shape(ocr.refine(refine_fn, receipt["receiptId"]), 500, "INTERNAL_ERROR")
    assert_denied(capsys, "OcrRefineRole", "bedrock:InvokeModel")
    assert "refinement" not in ocr.stored(table, receipt)

    roles(TEMPLATE)
    assert ocr.refine(refine_fn, receipt["receiptId"]).status == 200


def test_exports_without_kms_generate_data_key_are_not_built(export_env, table, roles, capsys):
    handler = load_function("export_handler")
    export_request = ApiClient(load_function("export_request"))
    put_receipt(table, user=exports.USER)
    export_id = export_request.call("POST", "/user/export", user=exports.USER).body["exportId"]
    roles(without("ExportHandlerRole", "DecryptOriginalsEncryptExports", "kms:GenerateDataKey"))

    # The ZIP is a multipart upload under the stack's key: starting it needs a data key.
    first = exports.deliver(handler, export_env)
    assert len(first["batchItemFailures"]) == 1
    assert_denied(capsys, "ExportHandlerRole", "kms:GenerateDataKey")
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=exports.EXPORTS_BUCKET)

    roles(TEMPLATE)
    assert exports.redeliver(handler, first["records"], receive_count=2)["batchItemFailures"] == []
    exports.the_zip(export_id)


def test_erasure_without_cognito_admin_delete_user_stays_in_progress(
    deletion_client, table, cognito_user, roles, capsys
):
    roles(without("UserDeletionRole", "DeleteCognitoUser", "cognito-idp:AdminDeleteUser"))

    status, body = deletion.delete_account(
        deletion_client, cognito_user, deletion.token_for(deletion_client, cognito_user)
    )

    assert status == 202 and body["status"] == "inProgress"  # the queued rerun is to finish it
    assert_denied(capsys, "UserDeletionRole", "cognito-idp:AdminDeleteUser")
    cognito = boto3.client("cognito-idp")
    assert cognito.admin_get_user(UserPoolId=cognito_user["pool"], Username=cognito_user["username"])

    roles(TEMPLATE)
    [message] = queued_messages(deletion_client.queue)
    record = {"messageId": message["MessageId"], "body": message["Body"], "attributes": {}}
    assert deletion_client.module.lambda_handler({"Records": [record]}, lambda_context()) == {"batchItemFailures": []}
    with pytest.raises(ClientError, match="UserNotFoundException"):
        cognito.admin_get_user(UserPoolId=cognito_user["pool"], Username=cognito_user["username"])


def test_reminders_without_sns_publish_are_left_for_the_retry(table, roles, capsys, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    applications = push.platform_applications()
    checker = load_function("warranty_checker")
    [arn] = warranties.a_user(table, applications, "user-a")
    warranties.add_warranty(table, "user-a", warranties.days_from_run(7))
    roles(without("WarrantyCheckerRole", "PushToDevices", "sns:Publish"))

    with pytest.raises(RunIncompleteError):
        warranties.run(checker)
    assert_denied(capsys, "WarrantyCheckerRole", "sns:Publish")
    assert push.pushes(arn) == []

    roles(TEMPLATE)
    assert warranties.run(checker)["sent"] == 1 and len(push.pushes(arn)) == 1


def test_the_custom_resource_without_create_platform_application_fails_the_stack(
    provisioner,
    cloudformation,
    roles,
    capsys,
):
    roles(without("PlatformApplicationRole", "CreatePlatformApplications", "sns:CreatePlatformApplication"))

    provisioner.lambda_handler(platform.request(cloudformation, "Create", platform.FCM), lambda_context())

    assert cloudformation.received[-1]["Status"] == "FAILED"
    assert cloudformation.received[-1]["Reason"] == "AuthorizationErrorException"  # SNS's modelled error
    assert_denied(capsys, "PlatformApplicationRole", "sns:CreatePlatformApplication")
    assert boto3.client("sns").list_platform_applications()["PlatformApplications"] == []

    roles(TEMPLATE)
    provisioner.lambda_handler(platform.request(cloudformation, "Create", platform.FCM), lambda_context())
    assert cloudformation.received[-1]["Status"] == "SUCCESS"


# -- coverage: the scenarios ----------------------------------------------------------------------
#
# Each drives one function (or two that work together) through its main paths and its rare
# ones, with the suite's own fixtures and helpers. AWS calls a test makes itself, to set up or
# to look, are outside any role (`with_role` checks the handler's calls only).


def receipt_crud_scenario(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("api_env")
    changes = request.getfixturevalue("receipt_changes")
    client = ApiClient(load_function("receipt_crud"), before_each_call=changes.deliver)
    first = crud.create(client)
    crud.create(client, totalAmount="5.00")  # another receipt: a duplicate would move the first's version
    assert client.call("GET", crud.RECEIPT, path_parameters={"receiptId": first["receiptId"]}).status == 200
    page = client.call("GET", "/receipts", query={"limit": "1"}).body
    assert client.call("GET", "/receipts", query={"limit": "1", "nextToken": page["nextToken"]}).status == 200
    body = {**crud.a_receipt(notes="edited"), "serverVersion": 1}
    assert client.call("PUT", crud.RECEIPT, path_parameters={"receiptId": first["receiptId"]}, body=body).status == 200
    # The review: the same receipt entered again is flagged, listed, and merged.
    again = crud.create(client)
    [pair] = client.call("GET", "/receipts/duplicates").body["items"]
    kept, other = (
        (pair["receipt"], pair["other"])
        if pair["receipt"]["receiptId"] == again["receiptId"]
        else (pair["other"], pair["receipt"])
    )
    decision = {"action": "merge", "serverVersion": kept["serverVersion"], "otherServerVersion": other["serverVersion"]}
    path = {"receiptId": kept["receiptId"], "otherReceiptId": other["receiptId"]}
    assert (
        client.call(
            "POST", "/receipts/{receiptId}/duplicates/{otherReceiptId}", path_parameters=path, body=decision
        ).status
        == 200
    )


def duplicate_checker_scenario(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("api_env")
    changes = request.getfixturevalue("receipt_changes")
    client = ApiClient(load_function("receipt_crud"), before_each_call=changes.deliver)
    first = crud.create(client)
    second = crud.create(client)  # the same receipt again: looked up, flagged on both, listed
    assert client.call("DELETE", crud.RECEIPT, path_parameters={"receiptId": second["receiptId"]}).status == 200
    changes.deliver()  # deleted: its fingerprints forgotten, the pair taken off both
    assert client.call("GET", crud.RECEIPT, path_parameters={"receiptId": first["receiptId"]}).status == 200


def category_scenario(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("api_env")
    client = ApiClient(load_function("category_handler"))
    assert client.call("GET", "/categories").status == 200
    assert client.call("PUT", "/categories", body={"custom": ["Kids"], "version": 0}).status == 200
    assert client.call("PUT", "/categories", body={"custom": ["Pets"], "version": 1}).status == 200


def health_scenario(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("api_env")
    assert ApiClient(load_function("health")).call("GET", "/health", user=None).status == 200


def presigned_url_scenario(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("api_env")
    bucket = request.getfixturevalue("images_bucket")["bucket"]
    table = request.getfixturevalue("table")
    client = ApiClient(load_function("presigned_url_generator"))
    assert presigned.upload_url(client, put_receipt(table)["receiptId"]).status == 200
    receipt, image_id, original, _ = presigned.with_image(table)
    boto3.client("s3").put_object(Bucket=bucket, Key=original, Body=b"heic")  # uploaded: S3 will decrypt it
    assert presigned.download_url(client, receipt["receiptId"], image_id).status == 200


def thumbnail_scenario(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("api_env")
    bucket = request.getfixturevalue("images_bucket")["bucket"]
    table = request.getfixturevalue("table")
    generator = load_function("thumbnail_generator")
    receipt = put_receipt(table)
    assert thumbnails.process(generator, bucket, thumbnails.upload(bucket, receipt, images.jpeg(), "jpg")) == [
        "generated"
    ]
    # The rare path: an upload past the receipt's image limit is removed again.
    full = put_receipt(table)
    keys = [
        f"users/user-a/receipts/{full['receiptId']}/original/{uuid.uuid4()}.jpg" for _ in range(MAX_IMAGES_PER_RECEIPT)
    ]
    table.update_item(
        Key={"PK": full["PK"], "SK": full["SK"]},
        UpdateExpression="SET imageKeys = :k",
        ExpressionAttributeValues={":k": keys},
    )
    extra = thumbnails.upload(bucket, full, images.jpeg(), "jpg")
    assert thumbnails.process(generator, bucket, extra) == ["dropped:too-many-images"]


def sync_scenario(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("api_env")
    request.getfixturevalue("monkeypatch").setenv("MAX_BATCH_SIZE", "25")
    table = request.getfixturevalue("table")
    client = ApiClient(load_function("sync_handler"))
    existing = put_receipt(table)
    items = [
        {"receiptId": str(uuid.uuid4()), "storeName": "Lidl"},
        {"receiptId": existing["receiptId"], "serverVersion": 1, "notes": "new"},
        # Facts to match on: the push's duplicate check queries and stores fingerprints.
        {
            "receiptId": str(uuid.uuid4()),
            "storeName": "Lidl",
            "purchaseDate": "2026-11-02",
            "totalAmount": "9.80",
            "currency": "EUR",
        },
    ]
    assert client.call("POST", "/sync/push", body={"items": items}).status == 200
    page = client.call("POST", "/sync/pull", body={"limit": 1}).body
    assert client.call("POST", "/sync/pull", body={"limit": 1, "cursor": page["nextCursor"]}).status == 200
    assert client.call("POST", "/sync/full", body={}).status == 200


def ocr_refine_scenario(request: pytest.FixtureRequest) -> None:
    refine_fn = request.getfixturevalue("refine_fn")
    table = request.getfixturevalue("table")
    images_bucket = request.getfixturevalue("images_bucket")
    applications = push.platform_applications()
    push.add_device(table, applications, "user-a")
    push.disable(push.add_device(table, applications, "user-a")[1])  # dead: deleted by the push
    gateway = refine_fn.module.refinements.gateway
    doubtful, confident = converse_answer(confidence=0.4), converse_answer()
    answer_from_aws(gateway.bedrock, "Converse", doubtful, confident, confident, confident)  # Haiku, Sonnet, ...
    scanned_text = {
        "ExpenseDocuments": [{"SummaryFields": [{"Type": {"Text": "TOTAL"}, "ValueDetection": {"Text": "9"}}]}]
    }
    answer_from_aws(gateway.textract._create(), "AnalyzeExpense", scanned_text)  # the client, made now
    assert ocr.refine(refine_fn, ocr.ocr_receipt(table)["receiptId"]).body["refinement"]["model"] == ocr.SONNET
    photographed = ocr.ocr_receipt(table)
    key = ocr.attach(table, images_bucket, photographed, images.jpeg(), "jpg")
    assert ocr.refine(refine_fn, photographed["receiptId"], imageKey=key).status == 200
    scanned = put_receipt(table)  # no OCR text: Textract reads the image, with this role
    key = ocr.attach(table, images_bucket, scanned, b"%PDF-1.7 a scan", "pdf")
    assert ocr.refine(refine_fn, scanned["receiptId"], imageKey=key).status == 200


def user_settings_scenario(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("api_env")
    applications = push.platform_applications()
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("FCM_PLATFORM_APPLICATION_ARN", applications["android"])
    monkeypatch.setenv("APNS_PLATFORM_APPLICATION_ARN", applications["ios"])
    client = ApiClient(load_function("user_settings"))
    assert client.call("GET", "/user/settings").status == 200
    assert client.call("PUT", "/user/settings", body=settings.SETTINGS).status == 200
    device = settings.register(client).body["deviceId"]
    assert settings.register(client).status == 200  # the same token: its endpoint is read and kept
    assert client.call("DELETE", "/user/devices/{deviceId}", path_parameters={"deviceId": device}).status == 204
    assert client.call("POST", "/user/inbound-address").status == 201
    assert client.call("POST", "/user/inbound-address").status == 201  # rotated: the old lookup deleted
    assert client.call("DELETE", "/user/inbound-address").status == 204


def warranty_checker_scenario(request: pytest.FixtureRequest) -> None:
    table = request.getfixturevalue("table")
    request.getfixturevalue("monkeypatch").setenv("TABLE_NAME", TABLE_NAME)
    applications = push.platform_applications()
    checker = load_function("warranty_checker")
    gone, _ = warranties.a_user(table, applications, "user-a", devices=2)
    push.disable(gone)
    warranties.add_warranty(table, "user-a", warranties.days_from_run(7))
    warranties.add_warranty(table, "user-a", warranties.days_from_run(-3))  # ended: swept from the indexes
    [failing] = warranties.a_user(table, applications, "user-b")
    warranties.add_warranty(table, "user-b", warranties.days_from_run(7))
    fail_from_aws(checker.checker.push.push.endpoints.sns, "Publish", failing, "Throttling")  # its claim is given back
    with pytest.raises(RunIncompleteError):
        warranties.run(checker)


def weekly_summary_scenario(request: pytest.FixtureRequest) -> None:
    table = request.getfixturevalue("table")
    request.getfixturevalue("monkeypatch").setenv("TABLE_NAME", TABLE_NAME)
    applications = push.platform_applications()
    summary = load_function("weekly_summary")
    push.disable(digests.a_user(table, applications, "user-a"))
    push.add_device(table, applications, "user-a")
    digests.add_warranty(table, "user-a", 3)
    failing = digests.a_user(table, applications, "user-b")
    digests.add_warranty(table, "user-b", 3)
    fail_from_aws(summary.summary.push.push.endpoints.sns, "Publish", failing, "Throttling")  # its claim is given back
    with pytest.raises(RunIncompleteError):
        digests.run(summary)


def export_scenario(request: pytest.FixtureRequest) -> None:
    queue = request.getfixturevalue("export_env")
    table = request.getfixturevalue("table")
    images_bucket = request.getfixturevalue("images_bucket")
    client = ApiClient(load_function("export_request"))
    handler = load_function("export_handler")
    user = exports.USER
    push.disable(push.add_device(table, push.platform_applications(), user)[1])  # dead: deleted by the push
    exports.add_receipt_with_images(table, images_bucket)
    export_id = client.call("POST", "/user/export", user=user).body["exportId"]
    assert exports.deliver(handler, queue)["batchItemFailures"] == []
    ready = client.call("GET", "/user/export/{exportId}", path_parameters={"exportId": export_id}, user=user).body
    assert ready["status"] == "ready" and ready["downloadUrl"]  # signed for the encrypted ZIP
    # A build that fails: its multipart upload is aborted.
    builder = handler.worker.builder
    builder.gateway.s3 = exports.BrokenS3(builder.gateway.s3)
    client.call("POST", "/user/export", user=user)
    failed = exports.deliver(handler, queue)
    assert len(failed["batchItemFailures"]) == 1
    builder.gateway.s3 = builder.gateway.s3.client
    # An export whose job goes while it is built (the account is being erased): the ZIP goes too.
    build = builder.build

    def build_then_the_job_goes(user_id: str, export_id: str, *args: Any) -> Any:
        facts = build(user_id, export_id, *args)
        table.delete_item(Key={"PK": f"USER#{user_id}", "SK": f"EXPORT#{export_id}"})
        return facts

    builder.build = build_then_the_job_goes
    assert exports.redeliver(handler, failed["records"], receive_count=2)["batchItemFailures"] == []
    # A request whose message cannot be queued: the job is withdrawn.
    boto3.client("sqs").delete_queue(QueueUrl=queue)
    assert client.call("POST", "/user/export", user="someone-else").status >= 500


def user_deletion_scenario(request: pytest.FixtureRequest) -> None:
    client = request.getfixturevalue("deletion_client")
    table = request.getfixturevalue("table")
    user = request.getfixturevalue("cognito_user")
    deletion.seed_everything(table, request.getfixturevalue("images_bucket"), user["sub"])
    status, body = deletion.delete_account(client, user, deletion.token_for(client, user))
    assert status == 202 and body["status"] == "completed"
    [message] = queued_messages(client.queue)  # the safety net, run as the queue delivers it
    record = {"messageId": message["MessageId"], "body": message["Body"], "attributes": {}}
    assert client.module.lambda_handler({"Records": [record]}, lambda_context()) == {"batchItemFailures": []}


def calendar_feed_scenario(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("api_env")
    table = request.getfixturevalue("table")
    feeds = load_function("calendar_feed")
    calendar.a_warranty(table)
    old = calendar.enable(feeds)
    current = calendar.enable(feeds)  # rotated: the old token's item deleted
    assert calendar.fetch(feeds, current)["statusCode"] == 200
    assert calendar.fetch(feeds, old)["statusCode"] == 404  # an unknown token, counted
    assert ApiClient(feeds).call("DELETE", calendar.FEED_SETTINGS).status == 204


def inbound_mail_scenario(request: pytest.FixtureRequest) -> None:
    env = request.getfixturevalue("inbound_env")
    table = request.getfixturevalue("table")
    mail = load_function("inbound_mail")
    address = inbound.enable(ApiClient(load_function("user_settings")))
    assert inbound.deliver(mail, emails.pdf_invoice(recipient=address)) == ["delivered:1"]
    assert inbound.deliver(mail, emails.pdf_invoice(recipient=address)) == ["already-delivered"]
    assert inbound.deliver(mail, emails.html_ride_receipt(recipient="r-" + "a" * 26 + "@" + inbound.DOMAIN)) == [
        "discarded:unknown-recipient"
    ]
    assert len(inbound.receipts_of(table)) == 1 and queued_messages(env["queue"])


def platform_application_scenario(request: pytest.FixtureRequest) -> None:
    responses = request.getfixturevalue("cloudformation")
    function = request.getfixturevalue("provisioner")
    function.lambda_handler(platform.request(responses, "Create", platform.FCM), lambda_context())
    arn = responses.received[0]["PhysicalResourceId"]
    rotated = {**platform.FCM, "CredentialsRevision": "2"}
    update = platform.request(responses, "Update", rotated, PhysicalResourceId=arn, OldResourceProperties=platform.FCM)
    function.lambda_handler(update, lambda_context())
    function.lambda_handler(
        platform.request(responses, "Delete", platform.FCM, PhysicalResourceId=arn), lambda_context()
    )
    assert [answer["Status"] for answer in responses.received] == ["SUCCESS"] * 3


SCENARIOS: dict[str, tuple[Callable[[pytest.FixtureRequest], None], tuple[str, ...]]] = {
    "receipt-crud": (receipt_crud_scenario, ("ReceiptCrudFunction",)),
    "categories": (category_scenario, ("CategoryHandlerFunction",)),
    "health": (health_scenario, ("HealthFunction",)),
    "presigned-urls": (presigned_url_scenario, ("PresignedUrlGeneratorFunction",)),
    "thumbnails": (thumbnail_scenario, ("ThumbnailGeneratorFunction",)),
    "duplicate-checker": (duplicate_checker_scenario, ("DuplicateCheckerFunction",)),
    "sync": (sync_scenario, ("SyncHandlerFunction",)),
    "ocr-refine": (ocr_refine_scenario, ("OcrRefineFunction",)),
    "user-settings": (user_settings_scenario, ("UserSettingsFunction",)),
    "calendar-feed": (calendar_feed_scenario, ("CalendarFeedFunction",)),
    "inbound-mail": (inbound_mail_scenario, ("InboundMailFunction",)),
    "warranty-checker": (warranty_checker_scenario, ("WarrantyCheckerFunction",)),
    "weekly-summary": (weekly_summary_scenario, ("WeeklySummaryFunction",)),
    "export": (export_scenario, ("ExportRequestFunction", "ExportHandlerFunction")),
    "user-deletion": (user_deletion_scenario, ("UserDeletionFunction",)),
    "platform-application": (platform_application_scenario, ("PlatformApplicationFunction",)),
}


# -- coverage: what each statement and action is for ----------------------------------------------

# Statements that allow nothing a broader statement of their role does not, each naming that
# statement; checked, so an entry fails once it stops being true. None today: the template's
# roles were cut to what these scenarios need (the daily-active-user marker statements went
# where the role writes the table anyway).
SUBSUMED_STATEMENTS: dict[tuple[str, str], str] = {}

# Actions of used statements that neither the code nor the Lambda service ever asks for; checked
# to stay unused. None today: sqs:ChangeMessageVisibility, sns:GetPlatformApplicationAttributes,
# s3:ListBucket beside s3:ListBucketVersions and s3:DeleteObject beside s3:DeleteObjectVersion
# were removed from the template when this test found them.
UNUSED_ACTIONS: set[tuple[str, str, str]] = set()


def short(sid: str) -> str:
    """`receipt-crud/ReceiptItems` -> `ReceiptItems`."""
    return sid.split("/", 1)[1]


def role_uses(
    function_id: str, decisions: list[iam.Decision]
) -> tuple[iam.RoleGuard, list[tuple[Request, iam.Evaluation]]]:
    """The function's guard, and every request made with its role: its code's, as recorded, and
    the Lambda service's (runtime_requests), evaluated as the guard would. All must be allowed."""
    role = role_logical_id(TEMPLATE, function_id)
    resolve = iam.environment_resolver(TEMPLATE, function_id, os.environ)
    guard = iam.guard_for(TEMPLATE, function_id, resolve)
    code = [(d.request, d.evaluation) for d in decisions if d.role == role]
    runtime = [(request, guard.evaluate(request)) for request in iam.runtime_requests(TEMPLATE, function_id, resolve)]
    refused = [(r.action, r.resource) for r, e in code + runtime if not e.allowed]
    assert not refused, f"{function_id}: requests its role refuses: {refused}"
    return guard, code + runtime


def unneeded(guard: iam.RoleGuard, uses: list[tuple[Request, iam.Evaluation]]) -> list[str]:
    """What of the role the requests never needed, beyond the findings listed above."""
    role = guard.policies.role_logical_id
    alone: dict[str, list[Request]] = defaultdict(list)  # statement -> the requests only it allowed
    allowed: dict[str, list[iam.Evaluation]] = defaultdict(list)  # statement -> every request it allowed
    for used, evaluation in uses:
        for sid in evaluation.allowed_by:
            allowed[short(sid)].append(evaluation)
        if len(evaluation.allowed_by) == 1:
            alone[short(evaluation.allowed_by[0])].append(used)
    problems = []
    for statement in (s for s in guard.policies.statements if s.effect == "Allow"):
        sid = short(statement.sid)
        broader = SUBSUMED_STATEMENTS.get((role, sid))
        if broader is not None:
            within = all(broader in map(short, e.allowed_by) for e in allowed[sid])
            if alone[sid] or not allowed[sid] or not within:
                problems.append(f"{role}/{sid} is no longer exactly a part of {broader}: update SUBSUMED_STATEMENTS")
        elif not alone[sid]:
            problems.append(f"{role}/{sid} allows nothing that no other statement allows")
        else:
            for action in statement.actions:
                needed = any(action_matches(action, r.action) for r in alone[sid])
                if needed == ((role, sid, action) in UNUSED_ACTIONS):
                    problems.append(
                        f"{role}/{sid}: {action} is {'used: update UNUSED_ACTIONS' if needed else 'never needed'}"
                    )
    return problems


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_statement_and_action_of_the_role_is_needed(scenario, request):
    drive, function_ids = SCENARIOS[scenario]
    with iam.recording() as decisions:
        drive(request)

    problems = [problem for f in function_ids for problem in unneeded(*role_uses(f, decisions))]

    assert not problems, "\n".join(problems)


def test_the_lambda_services_own_requests_are_allowed_for_every_function():
    """Logs, traces, event sources and destinations: AWS drops what a role refuses silently."""
    for function_id in sorted(f for _, functions in SCENARIOS.values() for f in functions):
        resolve = iam.environment_resolver(TEMPLATE, function_id, {})
        guard = iam.guard_for(TEMPLATE, function_id, resolve)
        requests = iam.runtime_requests(TEMPLATE, function_id, resolve)

        assert {r.action for r in requests} >= {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments"}
        for runtime_request in requests:
            assert guard.evaluate(runtime_request).allowed, (function_id, runtime_request)


def test_the_findings_name_statements_and_actions_the_template_has():
    """A stale entry (its statement or action gone from the template) must go from the lists."""
    written = {}
    for role, resource in TEMPLATE["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                written[(role, statement.get("Sid"))] = actions
    covered_roles = {role_logical_id(TEMPLATE, f) for _, functions in SCENARIOS.values() for f in functions}
    for role, sid in SUBSUMED_STATEMENTS:
        assert (role, sid) in written and role in covered_roles, (role, sid)
    for role, sid, action in UNUSED_ACTIONS:
        assert action in written.get((role, sid), []) and role in covered_roles, (role, sid, action)


def test_every_function_of_the_template_has_a_scenario():
    functions = {
        logical
        for logical, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }

    assert functions == {f for _, covered in SCENARIOS.values() for f in covered}
