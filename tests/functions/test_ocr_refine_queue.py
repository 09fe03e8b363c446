"""ocr-refine's queue: receipts received by e-mail, refined without an app to ask (inbound_mail).

The queue is the stack's own, but its messages are still checked: each names a receipt and one
of that receipt's own originals. A redelivered message refines nothing twice, models that are
unavailable leave the message for a retry, and a poison message is dropped, not retried forever.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tests.conftest import put_receipt
from tests.functions.test_ocr_refine import script
from tests.support.api_events import lambda_context
from tests.support.bedrock import OCR, TODAY, extraction, text_answer, tool_answer, unavailable


def queued(refine_fn, *bodies: Any) -> dict[str, Any]:
    records = [
        {
            "messageId": f"m{n}",
            "receiptHandle": f"h{n}",
            "body": body if isinstance(body, str) else json.dumps(body),
            "attributes": {},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }
        for n, body in enumerate(bodies)
    ]
    return refine_fn.module.lambda_handler({"Records": records}, lambda_context())


def received(table, images_bucket, extension: str, content: bytes, **fields: Any) -> tuple[dict[str, Any], str]:
    receipt = put_receipt(table, **fields)
    key = f"users/user-a/receipts/{receipt['receiptId']}/original/{uuid.uuid4()}.{extension}"
    boto3.client("s3").put_object(Bucket=images_bucket["bucket"], Key=key, Body=content)
    return receipt, key


def request(receipt: dict[str, Any], key: str, user: str = "user-a") -> dict[str, str]:
    return {"userId": user, "receiptId": receipt["receiptId"], "imageKey": key}


def stored(table, receipt: dict[str, Any]) -> dict[str, Any]:
    return table.get_item(Key={"PK": receipt["PK"], "SK": receipt["SK"]})["Item"]


class Textract:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def analyze_expense(self, **call: Any) -> dict[str, Any]:
        self.calls.append(call)
        fields = [{"Type": {"Text": "VENDOR_NAME"}, "ValueDetection": {"Text": "Acme Store"}}]
        return {"ExpenseDocuments": [{"SummaryFields": fields, "LineItemGroups": []}]}


def test_a_received_pdf_is_read_by_textract_refined_and_a_redelivery_refines_nothing(refine_fn, table, images_bucket):
    receipt, key = received(table, images_bucket, "pdf", b"%PDF-1.7 an invoice")
    bedrock = script(refine_fn, haiku=[tool_answer(extraction())])
    textract = Textract()
    refine_fn.module.refinements.gateway.textract = textract
    assert queued(refine_fn, request(receipt, key)) == {"batchItemFailures": []}
    assert stored(table, receipt)["refinement"]["status"] == "refined"
    assert textract.calls == [{"Document": {"S3Object": {"Bucket": images_bucket["bucket"], "Name": key}}}]
    assert queued(refine_fn, request(receipt, key)) == {"batchItemFailures": []}  # SQS delivering twice
    assert len(bedrock.requests) == 1 and len(textract.calls) == 1


def test_an_html_receipt_is_refined_from_its_text_alone(refine_fn, table, images_bucket):
    text = OCR.format(date=TODAY.strftime("%d/%m/%Y"))
    receipt, key = received(table, images_bucket, "html", b"<p>a receipt</p>", ocrRawText=text)
    bedrock = script(refine_fn, haiku=[tool_answer(extraction())])
    textract = Textract()
    refine_fn.module.refinements.gateway.textract = textract
    assert queued(refine_fn, request(receipt, key)) == {"batchItemFailures": []}
    assert textract.calls == []
    content = bedrock.requests[0]["messages"][0]["content"]
    assert not [block for block in content if "image" in block]  # the HTML is never sent as a picture
    assert stored(table, receipt)["storeName"] == "MediaMarkt Athens"


def test_unavailable_models_leave_the_message_for_a_retry_which_then_refines(refine_fn, table, images_bucket):
    text = OCR.format(date=TODAY.strftime("%d/%m/%Y"))
    receipt, key = received(table, images_bucket, "html", b"<p>x</p>", ocrRawText=text)
    script(refine_fn, haiku=[unavailable()], sonnet=[unavailable()])
    assert queued(refine_fn, request(receipt, key)) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert stored(table, receipt)["refinement"]["status"] == "failed"
    script(refine_fn, haiku=[tool_answer(extraction())])
    assert queued(refine_fn, request(receipt, key)) == {"batchItemFailures": []}
    assert stored(table, receipt)["refinement"]["status"] == "refined"


def test_bad_answers_are_not_retried_forever(refine_fn, table, images_bucket):
    text = OCR.format(date=TODAY.strftime("%d/%m/%Y"))
    receipt, key = received(table, images_bucket, "html", b"<p>x</p>", ocrRawText=text)
    script(refine_fn, haiku=[text_answer("no")], sonnet=[text_answer("no")])
    assert queued(refine_fn, request(receipt, key)) == {"batchItemFailures": []}
    assert stored(table, receipt)["refinement"]["status"] == "failed"


def test_poison_messages_and_foreign_originals_are_dropped_without_calling_a_model(refine_fn, table, images_bucket):
    receipt, key = received(table, images_bucket, "pdf", b"%PDF-1.7")
    other, other_key = received(table, images_bucket, "pdf", b"%PDF-1.7")
    bedrock = script(refine_fn)
    answers = queued(
        refine_fn,
        "not json",
        {"userId": "user-a"},
        request(receipt, other_key),  # another receipt's original
        request(receipt, key, user="user-b"),  # another user's receipt
        request(receipt, "users/user-a/../secret"),
    )
    assert answers == {"batchItemFailures": []}
    assert bedrock.requests == []
    assert "refinement" not in stored(table, receipt) and "refinement" not in stored(table, other)


def test_a_receipt_deleted_before_its_refinement_is_left_alone(refine_fn, table, images_bucket):
    receipt, key = received(table, images_bucket, "pdf", b"%PDF-1.7", status="deleted")
    bedrock = script(refine_fn)
    assert queued(refine_fn, request(receipt, key)) == {"batchItemFailures": []}
    assert bedrock.requests == []


def test_an_original_the_thumbnail_generator_removed_as_unusable_is_dropped_not_retried(
    refine_fn, table, images_bucket
):
    receipt, key = received(table, images_bucket, "pdf", b"%PDF-1.7 junk")
    boto3.client("s3").delete_object(Bucket=images_bucket["bucket"], Key=key)  # dropped as corrupt

    class GoneTextract:  # what Textract answers for an object that is not there
        def analyze_expense(self, **call: Any) -> dict[str, Any]:
            error = {"Error": {"Code": "InvalidS3ObjectException", "Message": "Unable to get object metadata"}}
            raise ClientError(error, "AnalyzeExpense")

    refine_fn.module.refinements.gateway.textract = GoneTextract()
    bedrock = script(refine_fn)
    assert queued(refine_fn, request(receipt, key)) == {"batchItemFailures": []}
    assert bedrock.requests == []
