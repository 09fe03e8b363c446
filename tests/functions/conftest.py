"""Fixtures shared by the function tests."""

from __future__ import annotations

import pytest

from tests.conftest import TABLE_NAME, ApiClient, load_function
from tests.support.bedrock import HAIKU, SONNET
from tests.support.receipt_changes import ReceiptChanges


@pytest.fixture
def receipt_changes(api_env) -> ReceiptChanges:
    """The table's stream and duplicate-checker: `deliver()` runs the checks pending."""
    return ReceiptChanges(load_function("duplicate_checker"), TABLE_NAME)


@pytest.fixture
def refine_fn(api_env, images_bucket, monkeypatch) -> ApiClient:
    monkeypatch.setenv("BEDROCK_MODEL_ID", HAIKU)
    monkeypatch.setenv("BEDROCK_FALLBACK_MODEL_ID", SONNET)
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.70")
    monkeypatch.setenv("REFINE_DAILY_LIMIT", "200")
    return ApiClient(load_function("ocr_refine"))


EXPORTS_BUCKET = "receiptvault-exports-test"


@pytest.fixture
def exports_bucket(images_bucket, monkeypatch) -> str:
    """The exports bucket as the template declares it: unversioned, SSE-KMS with the stack's key."""
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=EXPORTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_encryption(
        Bucket=EXPORTS_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": images_bucket["key_arn"],
                    }
                }
            ]
        },
    )
    monkeypatch.setenv("EXPORT_BUCKET", EXPORTS_BUCKET)
    return EXPORTS_BUCKET


def make_queue(name: str) -> str:
    import boto3

    return boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]


def queued_messages(queue_url: str) -> list[dict]:
    import boto3

    return (
        boto3.client("sqs")
        .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0)
        .get("Messages", [])
    )
