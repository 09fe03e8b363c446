"""The Bedrock and Textract stand-ins answer real boto3 requests with schema-valid results."""

from __future__ import annotations

import json

import boto3
import pytest

from local.extraction import extract_receipt, parse_amount
from local.standins import StandInServer

GREEK_RECEIPT = """ΣΚΛΑΒΕΝΙΤΗΣ
ΑΘΗΝΑ
12/03/2026
ΓΑΛΑ 1,49
2 x ΨΩΜΙ 3,00
ΦΠΑ 13% 0,52
ΣΥΝΟΛΟ 4,49 €
ΚΑΡΤΑ"""

GERMAN_RECEIPT = """MEDIA MARKT BERLIN
Datum: 05.11.2026
Kopfhörer 129,99
Garantie 2 Jahre
MwSt 19% 20,75
SUMME EUR 129,99
EC-Karte"""


@pytest.fixture
def standins():
    server = StandInServer(read_s3_object=lambda bucket, key: b"LIDL\n2026-01-02\nTOTAL 3.20 EUR")
    server.start()
    yield server
    server.stop()


def client(service: str, url: str):
    return boto3.client(
        service, region_name="eu-west-1", endpoint_url=url, aws_access_key_id="local", aws_secret_access_key="local"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GREEK_RECEIPT,
            {
                "merchant": "Σκλαβενιτησ",
                "date": "2026-03-12",
                "total": "4.49",
                "currency": "EUR",
                "tax": "0.52",
                "paymentMethod": "card",
            },
        ),
        (
            GERMAN_RECEIPT,
            {"date": "2026-11-05", "total": "129.99", "currency": "EUR", "warrantyMonths": 24, "paymentMethod": "card"},
        ),
    ],
)
def test_the_extractor_reads_european_receipts(text, expected):
    result = extract_receipt(text)

    for name, value in expected.items():
        if name == "merchant":
            assert result[name].casefold() == value.casefold()
        else:
            assert result[name] == value, name
    assert 0 <= result["confidence"] <= 1
    assert extract_receipt(text) == result  # deterministic


def test_the_extractor_finds_line_items_with_quantities():
    items = extract_receipt(GREEK_RECEIPT)["items"]

    assert {"description": "ΨΩΜΙ", "quantity": 2.0, "unitPrice": "1.50", "totalPrice": "3.00"} in items


@pytest.mark.parametrize(("text", "amount"), [("1.234,56", "1234.56"), ("1,234.56", "1234.56"), ("129,99", "129.99")])
def test_amounts_in_either_european_or_english_notation(text, amount):
    assert str(parse_amount(text)) == amount


def test_converse_with_a_forced_tool_returns_the_tool_input(standins):
    bedrock = client("bedrock-runtime", standins.url)

    response = bedrock.converse(
        modelId="eu.anthropic.claude-haiku-4-5-20251001-v1:0",
        messages=[{"role": "user", "content": [{"text": f"<ocr_text>{GERMAN_RECEIPT}</ocr_text>"}]}],
        toolConfig={
            "tools": [{"toolSpec": {"name": "record_receipt", "inputSchema": {"json": {"type": "object"}}}}],
            "toolChoice": {"tool": {"name": "record_receipt"}},
        },
    )

    [block] = response["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "record_receipt"
    assert block["toolUse"]["input"]["total"] == "129.99"
    assert response["stopReason"] == "tool_use" and response["usage"]["inputTokens"] > 0
    assert standins.requests[-1]["service"] == "bedrock-runtime"


def test_invoke_model_answers_in_the_anthropic_messages_format(standins):
    bedrock = client("bedrock-runtime", standins.url)

    response = bedrock.invoke_model(
        modelId="eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        body=json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 1000,
                "messages": [{"role": "user", "content": GREEK_RECEIPT}],
            }
        ),
    )

    payload = json.loads(response["body"].read())
    assert payload["content"][0]["type"] == "text"
    assert json.loads(payload["content"][0]["text"])["total"] == "4.49"


def test_textract_analyze_expense_reads_an_s3_document(standins):
    textract = client("textract", standins.url)

    response = textract.analyze_expense(Document={"S3Object": {"Bucket": "images", "Name": "receipt.txt"}})

    fields = {f["Type"]["Text"]: f["ValueDetection"]["Text"] for f in response["ExpenseDocuments"][0]["SummaryFields"]}
    assert fields["TOTAL"] == "3.20" and fields["INVOICE_RECEIPT_DATE"] == "2026-01-02"


def test_textract_on_an_image_without_text_is_empty_but_well_formed(standins):
    textract = client("textract", standins.url)

    response = textract.analyze_expense(Document={"Bytes": b"\xff\xd8\xff\xe0 not text"})

    assert response["ExpenseDocuments"][0]["SummaryFields"] == []
