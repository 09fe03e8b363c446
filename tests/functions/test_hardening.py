"""What a hostile user tries, each refused cleanly: hostile text and images, model output that a
client could not write, tokens that are not access tokens, echoed input, cacheable answers."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import boto3
import pytest
from PIL import Image

from local.cfn_template import OPENAPI_PATH, load_template, load_yaml
from tests.conftest import ApiClient, assert_error_shape, fill_images, load_function, put_receipt
from tests.functions.test_thumbnail_generator import process, upload
from tests.support import bedrock, images

UNSAFE = {
    "nul": "Lidl\x00",
    "escape": "Lidl\x1b[2J",
    "right-to-left override": "Lidl\u202egpj.exe",
    "isolate": "Lidl\u2066x\u2069",
    "line break in one line": "Lidl\nAthens",
    "C1 next line": "Lidl\x85Athens",
    "C1 control sequence introducer": "Lidl\x9b2J",
    "line separator": "Lidl\u2028Athens",
    "paragraph separator": "Lidl\u2029Athens",
    "byte-order mark": "\ufeffLidl",
    "lone surrogate": "Lidl\ud800",
    "noncharacter": "Lidl\uffff",
}
# Marks that right-to-left and joined scripts need are text, not tricks.
KEPT = {
    "right-to-left mark": "\u05dc\u05d9\u05d3\u05dc\u200f 24/7",
    "zero-width joiner": "\U0001f469\u200d\U0001f373 Bistro",
    "zero-width non-joiner": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
}


@pytest.fixture
def crud(api_env) -> ApiClient:
    return ApiClient(load_function("receipt_crud"))


@pytest.mark.parametrize("text", UNSAFE.values(), ids=UNSAFE.keys())
def test_text_fields_refuse_control_and_bidi_override_characters_and_write_nothing(crud, table, text):
    for body in ({"storeName": text}, {"tags": [text]}, {"items": [{"description": text}]}, {"category": text}):
        assert_error_shape(crud.call("POST", "/receipts", body=body), 400, "VALIDATION_ERROR")
    assert table.scan()["Items"] == []


@pytest.mark.parametrize("text", KEPT.values(), ids=KEPT.keys())
def test_the_marks_real_scripts_need_are_kept(crud, text):
    created = crud.call("POST", "/receipts", body={"storeName": text, "tags": [text]})

    assert created.status == 201 and created.body["storeName"] == text


@pytest.mark.parametrize("text", ["SHOP\x00 TOTAL 1.00", "SHOP\u202e TOTAL 1.00", "SHOP\x85TOTAL"])
def test_refinement_refuses_them_before_the_model_reads_them(refine_fn, table, text):
    receipt = put_receipt(table)
    model = bedrock.ScriptedBedrock(haiku=[bedrock.tool_answer(bedrock.extraction())])
    refine_fn.module.refinements.gateway.bedrock = model

    response = refine_fn.call(
        "POST",
        "/receipts/{receiptId}/refine",
        path_parameters={"receiptId": receipt["receiptId"]},
        body={"ocrRawText": text},
    )

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert model.requests == []


def test_an_upload_file_name_with_control_characters_is_refused_not_cleaned(api_env, images_bucket, table):
    urls = ApiClient(load_function("presigned_url_generator"))
    receipt = put_receipt(table)

    response = urls.call(
        "POST",
        "/receipts/{receiptId}/images/upload-url",
        path_parameters={"receiptId": receipt["receiptId"]},
        body={"contentType": "image/jpeg", "contentLength": 1000, "fileName": "scan\u202egpj.exe"},
    )

    assert_error_shape(response, 400, "VALIDATION_ERROR")


def test_notes_and_ocr_text_keep_their_line_breaks_but_no_control_characters(crud):
    kept = crud.call("POST", "/receipts", body={"notes": "line 1\nline 2\ttabbed", "ocrRawText": "LIDL\r\nTOTAL 3,59"})
    refused = crud.call("POST", "/receipts", body={"notes": "hidden\u202e"})

    assert kept.status == 201 and kept.body["notes"] == "line 1\nline 2\ttabbed"
    assert_error_shape(refused, 400, "VALIDATION_ERROR")


def test_push_refuses_them_per_item(api_env, monkeypatch):
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    sync = ApiClient(load_function("sync_handler"))

    response = sync.call("POST", "/sync/push", body={"items": [{"receiptId": str(uuid.uuid4()), "notes": "x\x00"}]})

    assert response.body["results"][0]["outcome"] == "rejected"


def test_claims_without_token_use_are_not_an_access_token(crud):
    from tests.support.api_events import api_event, lambda_context

    event = api_event("GET", "/receipts")
    del event["requestContext"]["authorizer"]["claims"]["token_use"]

    response = crud.module.lambda_handler(event, lambda_context())

    assert response["statusCode"] == 401


@pytest.mark.parametrize("subject", ["x#RECEIPT", "user/../other", "a" * 129, "USER#u RECEIPT#r"])
def test_a_subject_that_could_reach_into_a_key_is_refused(crud, table, subject):
    response = crud.call("POST", "/receipts", body={"storeName": "Lidl"}, user=subject)

    assert_error_shape(response, 401, "UNAUTHORIZED")
    assert table.scan()["Items"] == []


def test_every_api_answer_and_every_gateway_answer_is_uncacheable_and_nosniff(crud):
    success = crud.call("GET", "/receipts")
    failure = crud.call("GET", "/receipts/{receiptId}", path_parameters={"receiptId": str(uuid.uuid4())})
    gateway = load_yaml(OPENAPI_PATH)["x-amazon-apigateway-gateway-responses"]

    for response in (success, failure):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    for name, answer in gateway.items():
        headers = answer["responseParameters"]
        assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'", name
        assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'", name
    for path, operations in load_yaml(OPENAPI_PATH)["paths"].items():  # CORS preflights too
        preflight = operations["options"]
        mapped = preflight["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
        assert mapped["method.response.header.Cache-Control"] == "'no-store'", path
        assert mapped["method.response.header.X-Content-Type-Options"] == "'nosniff'", path
        assert {"Cache-Control", "X-Content-Type-Options"} <= set(preflight["responses"]["204"]["headers"]), path


def test_a_refused_timezone_is_not_echoed_back(api_env, monkeypatch):
    from tests.support import push

    applications = push.platform_applications()
    monkeypatch.setenv("FCM_PLATFORM_APPLICATION_ARN", applications["android"])
    monkeypatch.setenv("APNS_PLATFORM_APPLICATION_ARN", applications["ios"])
    settings = ApiClient(load_function("user_settings"))
    secret = "Europe/My_Home_Street_12"
    body = {"reminderDaysBefore": [7], "weeklyDigestEnabled": False, "timezone": secret, "locale": "en"}

    response = settings.call("PUT", "/user/settings", body={**body, "serverVersion": 0})

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert "My_Home_Street" not in json.dumps(response.body)


# -- the model's answer goes through the user's validators ---------------------------------------


@pytest.mark.parametrize(
    ("answered", "dropped"),
    [
        ({"total": "NaN", "date": "2025-W23-1"}, {"totalAmount", "purchaseDate"}),
        ({"merchant": "é" * 201, "warrantyMonths": 601}, {"storeName", "warrantyMonths"}),
        ({"items": [{"description": f"line {n}", "totalPrice": "0.10"} for n in range(201)]}, {"items"}),
        ({"merchant": "", "paymentMethod": "x" * 51}, {"storeName", "paymentMethod"}),
    ],
    ids=["not-a-number-and-a-week-date", "over-long-and-over-600-months", "201-items", "empty-and-over-long"],
)
def test_model_output_a_client_could_not_write_is_dropped_and_flagged_for_review(refine_fn, table, answered, dropped):
    answer = bedrock.extraction(**answered)
    refine_fn.module.refinements.gateway.bedrock = bedrock.ScriptedBedrock(
        haiku=[bedrock.tool_answer(answer)], sonnet=[bedrock.tool_answer(answer)]
    )
    receipt = put_receipt(table, ocrRawText="LIDL 3,59")

    refined = refine_fn.call(
        "POST", "/receipts/{receiptId}/refine", path_parameters={"receiptId": receipt["receiptId"]}
    )

    assert refined.status == 200, refined.body
    assert not dropped & set(refined.body)
    assert refined.body["refinement"]["needsReview"] is True
    assert {f"invalid-{name}" for name in dropped} <= set(refined.body["refinement"]["problems"])


# -- hostile images ------------------------------------------------------------------------------


def huge_uniform_jpeg(side: int = 10_000) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (side, side), (200, 180, 160)).save(output, "JPEG", quality=85)
    return output.getvalue()


def with_image(table, images_bucket, content: bytes, extension: str = "jpg") -> dict[str, Any]:
    receipt = put_receipt(table, ocrRawText="LIDL 3,59")
    key = upload(images_bucket["bucket"], receipt, content, extension)
    table.update_item(Key={"PK": receipt["PK"], "SK": receipt["SK"]}, UpdateExpression="SET imageKeys = :k",
                      ExpressionAttributeValues={":k": [key]})  # fmt: skip
    return {**receipt, "imageKeys": [key]}


def test_a_10000_by_10000_photo_is_sent_to_the_model_at_1568_px_decoded_at_reduced_scale(
    refine_fn, table, images_bucket
):
    refine_fn.module.refinements.gateway.bedrock = recording = bedrock.ScriptedBedrock(
        haiku=[bedrock.tool_answer(bedrock.extraction())]
    )
    receipt = with_image(table, images_bucket, huge_uniform_jpeg())

    refined = refine_fn.call(
        "POST", "/receipts/{receiptId}/refine", path_parameters={"receiptId": receipt["receiptId"]},
        body={"imageKey": receipt["imageKeys"][0]},
    )  # fmt: skip

    assert refined.status == 200, refined.body
    [sent] = [
        block["image"]["source"]["bytes"]
        for block in recording.requests[0]["messages"][0]["content"]
        if "image" in block
    ]
    assert max(Image.open(io.BytesIO(sent)).size) == 1568


def test_an_image_past_the_pixel_limit_is_a_400_not_a_crash(refine_fn, table, images_bucket):
    bomb = images.png_declaring(30_000, 30_000)  # 900 MP declared, a few bytes of data
    receipt = with_image(table, images_bucket, bomb, "png")

    refused = refine_fn.call(
        "POST", "/receipts/{receiptId}/refine", path_parameters={"receiptId": receipt["receiptId"]},
        body={"imageKey": receipt["imageKeys"][0]},
    )  # fmt: skip

    assert_error_shape(refused, 400, "VALIDATION_ERROR")


def test_an_upload_past_the_receipts_image_limit_is_removed_with_its_thumbnail(api_env, images_bucket, table):
    thumbnails = load_function("thumbnail_generator")
    receipt = put_receipt(table)
    fill_images(table, receipt)
    extra = upload(images_bucket["bucket"], receipt, images.jpeg(), "jpg")

    assert process(thumbnails, images_bucket["bucket"], extra) == ["dropped:too-many-images"]
    listed = boto3.client("s3").list_objects_v2(
        Bucket=images_bucket["bucket"], Prefix=f"users/user-a/receipts/{receipt['receiptId']}/"
    )
    assert listed.get("KeyCount", 0) == 0


# -- the template ---------------------------------------------------------------------------------


def test_the_access_log_keeps_no_client_ip_and_no_refused_input():
    stage_log = load_template()["Resources"]["ReceiptVaultApi"]["Properties"]["AccessLogSetting"]["Format"]

    assert "sourceIp" not in stage_log and "ip" not in json.loads(stage_log)
    assert "validationErrorString" not in stage_log  # API Gateway quotes the refused value in it


def test_the_images_bucket_refuses_any_encryption_but_the_stacks_key():
    policy = load_template()["Resources"]["ImagesBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    by_sid = {statement["Sid"]: statement for statement in policy}

    assert by_sid["DenyPutWithAnotherEncryption"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }
    assert by_sid["DenyPutWithTheAwsManagedKey"]["Condition"]["Null"] == {
        "s3:x-amz-server-side-encryption": "false",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": "true",
    }
    assert by_sid["DenyPutWithAnotherKey"]["Condition"]["StringNotEqualsIfExists"] == {
        "s3:x-amz-server-side-encryption-aws-kms-key-id": {"Fn::GetAtt": ["DataKey", "Arn"]}
    }
