"""ocr-refine: the fallback decision table, parsing, redaction, user edits, races and failures."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

import boto3
import pytest
from PIL import Image

from ocr_refine import refinement
from tests.conftest import ApiClient, assert_error_shape, put_receipt
from tests.support.bedrock import (
    HAIKU,
    OCR,
    SONNET,
    TODAY,
    ScriptedBedrock,
    extraction,
    text_answer,
    tool_answer,
    unavailable,
)


def script(refine_fn: ApiClient, **scripts: list[Any]) -> ScriptedBedrock:
    bedrock = ScriptedBedrock(**scripts)
    refine_fn.module.refinements.gateway.bedrock = bedrock
    return bedrock


def refine(refine_fn: ApiClient, receipt_id: str, user: str = "user-a", **body: Any):
    return refine_fn.call(
        "POST", "/receipts/{receiptId}/refine", path_parameters={"receiptId": receipt_id}, body=body, user=user
    )


def stored(table, receipt: dict[str, Any]) -> dict[str, Any]:
    return table.get_item(Key={"PK": receipt["PK"], "SK": receipt["SK"]})["Item"]


def ocr_receipt(table, **fields: Any) -> dict[str, Any]:
    return put_receipt(table, ocrRawText=OCR.format(date=TODAY.strftime("%d/%m/%Y")), **fields)


def test_a_confident_haiku_answer_is_applied_without_fallback(refine_fn, table):
    receipt = ocr_receipt(table)
    bedrock = script(refine_fn, haiku=[tool_answer(extraction())])

    response = refine(refine_fn, receipt["receiptId"])

    assert response.status == 200, response.body
    body = response.body
    assert body["storeName"] == "MediaMarkt Athens" and body["totalAmount"] == "129.99"
    assert body["items"][0]["description"] == "Headphones" and body["warrantyMonths"] == 24
    assert body["refinement"]["model"] == HAIKU and body["refinement"]["needsReview"] is False
    assert body["refinement"]["status"] == "refined" and body["serverVersion"] == 2
    assert bedrock.models == [HAIKU]
    request = bedrock.requests[0]
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": "record_receipt"}}


@pytest.mark.parametrize(
    ("haiku", "reason"),
    [
        (unavailable("ThrottlingException"), "throttled"),
        (unavailable("ServiceUnavailableException"), "unavailable"),
        (text_answer("I cannot read this receipt."), "malformed"),
        (tool_answer(extraction(confidence=0.41)), "low confidence"),
        (tool_answer(extraction(total="99.00")), "items do not add up"),
        (tool_answer(extraction(date=(TODAY + dt.timedelta(days=30)).isoformat())), "date in the future"),
        (tool_answer(extraction(date="1987-03-01")), "implausible date"),
        (tool_answer(extraction(currency="EURO")), "currency not ISO 4217"),
    ],
)
def test_the_fallback_decision_table(refine_fn, table, haiku, reason):
    receipt = ocr_receipt(table)
    bedrock = script(refine_fn, haiku=[haiku], sonnet=[tool_answer(extraction(confidence=0.88))])

    response = refine(refine_fn, receipt["receiptId"])

    assert response.status == 200, (reason, response.body)
    assert bedrock.models == [HAIKU, SONNET], reason
    assert response.body["refinement"]["model"] == SONNET
    assert response.body["refinement"]["needsReview"] is False


def test_when_both_are_doubtful_the_better_answer_is_kept_for_review(refine_fn, table):
    receipt = ocr_receipt(table)
    script(
        refine_fn,
        haiku=[tool_answer(extraction(confidence=0.5))],
        sonnet=[tool_answer(extraction(confidence=0.6, merchant="Media Markt"))],
    )

    body = refine(refine_fn, receipt["receiptId"]).body

    assert body["refinement"]["model"] == SONNET and body["refinement"]["needsReview"] is True
    assert body["storeName"] == "Media Markt"


def test_no_fallback_when_too_little_of_the_request_time_is_left(refine_fn, table):
    receipt = ocr_receipt(table)
    bedrock = script(refine_fn, haiku=[tool_answer(extraction(confidence=0.5))])
    service = refine_fn.module.refinements
    result = service.refine("user-a", receipt["receiptId"], refine_fn.module.RefineRequest(), seconds_left=lambda: 3.0)

    assert bedrock.models == [HAIKU]
    assert result["refinement"]["needsReview"] is True


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"merchant": "Lidl", "total": "3.20", "confidence": 0.9,}\n```',
        'Here is the data: {"merchant": "Lidl", "items": [{"description": "Milk",},], "confidence": 0.9}',
        '{"merchant": "Lidl", "total": 3.2, "confidence": 0.9}',
    ],
)
def test_a_text_answer_with_fences_or_trailing_commas_is_still_read(refine_fn, text):
    parsed = refinement.parse_answer(text_answer(text))

    assert parsed.merchant == "Lidl" and parsed.confidence == 0.9


@pytest.mark.parametrize(
    "text", ["no json here", '{"merchant": "Lidl"}', '{"confidence": 7}', '{"confidence": 0.9, "date": "31/12/2026"}']
)
def test_an_answer_outside_the_schema_is_malformed(refine_fn, text):
    with pytest.raises(refinement.MalformedAnswerError):
        refinement.parse_answer(text_answer(text))


def test_card_numbers_and_loyalty_ids_never_leave_the_account(refine_fn, table):
    receipt = ocr_receipt(table)
    bedrock = script(refine_fn, haiku=[tool_answer(extraction())])

    refine(refine_fn, receipt["receiptId"])

    sent = json.dumps(bedrock.requests, default=str)
    assert "4111 1111 1111 1111" not in sent and "4111111111111111" not in sent
    assert "99887766" not in sent
    assert "[card ****1111]" in sent and "Headphones 129.99" in sent


def test_fields_the_user_edited_are_never_overwritten(refine_fn, table):
    receipt = ocr_receipt(table, storeName="My favourite shop", totalAmount="130.00", userEditedFields=["storeName"])
    script(refine_fn, haiku=[tool_answer(extraction())])

    body = refine(refine_fn, receipt["receiptId"]).body

    assert body["storeName"] == "My favourite shop"  # protected
    assert body["totalAmount"] == "129.99"  # not protected: refined


def test_a_user_edit_during_the_refinement_is_kept(refine_fn, table):
    receipt = ocr_receipt(table)
    answer = tool_answer(extraction())

    class EditWhileThinking(ScriptedBedrock):
        def converse(self, **request: Any) -> dict[str, Any]:
            table.update_item(  # the user renames the store on another device meanwhile
                Key={"PK": receipt["PK"], "SK": receipt["SK"]},
                UpdateExpression="SET storeName = :s, userEditedFields = :u, notes = :n, serverVersion = :v",
                ExpressionAttributeValues={":s": "Typed by me", ":u": ["storeName"], ":n": "mine", ":v": 2},
            )
            return answer

    refine_fn.module.refinements.gateway.bedrock = EditWhileThinking()

    body = refine(refine_fn, receipt["receiptId"]).body

    assert body["storeName"] == "Typed by me" and body["notes"] == "mine"
    assert body["totalAmount"] == "129.99" and body["serverVersion"] == 3


def test_when_both_models_are_unavailable_it_is_503_and_a_retry_later_works(refine_fn, table):
    receipt = ocr_receipt(table, storeName="Kept")
    script(refine_fn, haiku=[unavailable()], sonnet=[unavailable("ModelNotReadyException")])

    failed = refine(refine_fn, receipt["receiptId"])

    assert_error_shape(failed, 503, "MODEL_UNAVAILABLE")
    item = stored(table, receipt)
    assert item["refinement"]["status"] == "failed" and item["storeName"] == "Kept"
    script(refine_fn, haiku=[tool_answer(extraction())])
    assert refine(refine_fn, receipt["receiptId"]).body["refinement"]["status"] == "refined"


def test_when_both_answers_are_unusable_it_is_502(refine_fn, table):
    receipt = ocr_receipt(table)
    script(refine_fn, haiku=[text_answer("no")], sonnet=[text_answer("still no")])

    assert_error_shape(refine(refine_fn, receipt["receiptId"]), 502, "MODEL_ERROR")


def test_ownership_deletion_and_empty_input(refine_fn, table):
    theirs = ocr_receipt(table, user="user-b")
    deleted = put_receipt(table, status="deleted")
    empty = put_receipt(table)
    script(refine_fn)

    assert_error_shape(refine(refine_fn, theirs["receiptId"]), 404, "NOT_FOUND")
    assert_error_shape(refine(refine_fn, deleted["receiptId"]), 409, "VERSION_CONFLICT")
    assert_error_shape(refine(refine_fn, empty["receiptId"]), 400, "VALIDATION_ERROR")
    assert_error_shape(refine(refine_fn, empty["receiptId"], imageKey="users/user-a/x.jpg"), 404, "NOT_FOUND")


def attach(table, images_bucket, receipt: dict[str, Any], content: bytes, extension: str) -> str:
    key = f"users/user-a/receipts/{receipt['receiptId']}/original/{uuid.uuid4()}.{extension}"
    boto3.client("s3").put_object(Bucket=images_bucket["bucket"], Key=key, Body=content)
    table.update_item(
        Key={"PK": receipt["PK"], "SK": receipt["SK"]},
        UpdateExpression="SET imageKeys = :k",
        ExpressionAttributeValues={":k": [key]},
    )
    return key


def test_an_image_is_sent_downscaled_to_1568_pixels(refine_fn, table, images_bucket):
    from tests.support import images

    receipt = ocr_receipt(table)
    key = attach(table, images_bucket, receipt, images.jpeg(4000, 3000), "jpg")
    bedrock = script(refine_fn, haiku=[tool_answer(extraction())])

    assert refine(refine_fn, receipt["receiptId"], imageKey=key).status == 200

    [block] = [b for b in bedrock.requests[0]["messages"][0]["content"] if "image" in b]
    sent = Image.open(io.BytesIO(block["image"]["source"]["bytes"]))
    assert max(sent.size) == 1568 and block["image"]["format"] == "jpeg"


def test_without_ocr_text_textract_reads_the_image_first(refine_fn, table, images_bucket):
    receipt = put_receipt(table)
    key = attach(table, images_bucket, receipt, b"%PDF-1.7 a scanned receipt", "pdf")
    bedrock = script(refine_fn, haiku=[tool_answer(extraction())])
    calls = []

    class Textract:
        def analyze_expense(self, **request: Any) -> dict[str, Any]:
            calls.append(request)
            return {
                "ExpenseDocuments": [
                    {
                        "SummaryFields": [
                            {"Type": {"Text": "VENDOR_NAME"}, "ValueDetection": {"Text": "Pharmacy Nikolaou"}},
                            {"Type": {"Text": "TOTAL"}, "ValueDetection": {"Text": "18.40"}},
                        ],
                        "LineItemGroups": [
                            {
                                "LineItems": [
                                    {
                                        "LineItemExpenseFields": [
                                            {"Type": {"Text": "ITEM"}, "ValueDetection": {"Text": "Aspirin"}},
                                            {"Type": {"Text": "PRICE"}, "ValueDetection": {"Text": "4.90"}},
                                        ]
                                    }
                                ]
                            }
                        ],
                    }
                ]
            }

    refine_fn.module.refinements.gateway.textract = Textract()

    assert refine(refine_fn, receipt["receiptId"], imageKey=key).status == 200
    assert calls == [{"Document": {"S3Object": {"Bucket": images_bucket["bucket"], "Name": key}}}]
    sent = bedrock.requests[0]["messages"][0]["content"][-1]["text"]
    assert "Pharmacy Nikolaou" in sent and "Aspirin 4.90" in sent


def test_refinement_metrics_are_emitted(refine_fn, table, capsys):
    receipt = ocr_receipt(table)
    script(refine_fn, haiku=[tool_answer(extraction(confidence=0.3))], sonnet=[tool_answer(extraction())])

    refine(refine_fn, receipt["receiptId"])

    [blob] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "RefinementLatency" in line]
    assert len(blob["RefinementLatency"]) == 2 and blob["FallbackInvocations"] == [1.0]
    assert blob["RefinementConfidence"] == [0.3, 0.92]


def register_device(table) -> str:
    sns = boto3.client("sns")
    app = sns.create_platform_application(
        Name="receiptvault-test-fcm", Platform="GCM", Attributes={"PlatformCredential": "k"}
    )["PlatformApplicationArn"]
    endpoint = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-token")["EndpointArn"]
    table.put_item(
        Item={
            "PK": "USER#user-a",
            "SK": "META#SETTINGS",
            "devices": {str(uuid.uuid4()): {"platform": "android", "endpointArn": endpoint}},
        }
    )
    return endpoint


def test_a_refinement_is_pushed_to_the_users_devices(refine_fn, table):
    endpoint = register_device(table)
    receipt = ocr_receipt(table)
    script(refine_fn, haiku=[tool_answer(extraction())])
    published = []
    sns = refine_fn.module.refinements.push.endpoints.sns
    real_publish = sns.publish
    sns_client = sns._create()
    sns_client.publish = lambda **request: published.append(request) or real_publish(**request)

    assert refine(refine_fn, receipt["receiptId"]).status == 200

    [push] = published
    assert push["TargetArn"] == endpoint
    message = json.loads(json.loads(push["Message"])["GCM"])
    assert message["data"] == {"receiptId": receipt["receiptId"], "type": "refinement-complete"}
    assert message["notification"]["title"] == "Receipt refined"


def test_a_failing_push_never_fails_the_refinement(refine_fn, table, monkeypatch):
    register_device(table)
    receipt = ocr_receipt(table)
    script(refine_fn, haiku=[tool_answer(extraction())])

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("push service down")

    monkeypatch.setattr(refine_fn.module.refinements.push, "send", broken)

    response = refine(refine_fn, receipt["receiptId"])

    assert response.status == 200 and response.body["refinement"]["status"] == "refined"
