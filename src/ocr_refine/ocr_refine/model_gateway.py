"""The AWS services a refinement reads from: Bedrock's models (Converse), Textract's OCR
(AnalyzeExpense) and the receipt's originals in S3.

Every SDK call of the refinement is made here. A model that is throttled or not ready is the
gateway's `ModelUnavailable`, which the service treats as a failed attempt; any other AWS error
goes on as it came (an unexpected error, a 500).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from receipt_vault.errors import NotFoundError
from receipt_vault.shapes import JsonObject

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_bedrock_runtime.type_defs import ConverseResponseTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_textract import TextractClient

UNAVAILABLE_CODES = {
    "ThrottlingException",
    "ServiceUnavailableException",
    "ModelNotReadyException",
    "InternalServerException",
    "ModelTimeoutException",
    "TooManyRequestsException",
}


class ModelUnavailable(Exception):  # noqa: N818 (a condition the service expects, not a bug)
    """The model did not answer: throttled, not ready, timed out or failing (Bedrock's `code`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ModelGateway:
    def __init__(
        self,
        bedrock: BedrockRuntimeClient,
        textract: TextractClient,  # created on first use: only a scan without OCR text, or an image, needs them
        s3: S3Client,
        bucket: str,
    ) -> None:
        self.bedrock = bedrock
        self.textract, self.s3 = textract, s3
        self.bucket = bucket

    def converse(self, request: JsonObject) -> ConverseResponseTypeDef:
        """One Converse call (its retries are the client's); `ModelUnavailable` if the model did not answer."""
        try:
            return self.bedrock.converse(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code not in UNAVAILABLE_CODES:
                raise
            raise ModelUnavailable(code) from error

    def expense_text(self, key: str) -> str:
        """Server-side OCR (Textract AnalyzeExpense) of an original in the bucket: its summary
        fields as "LABEL: value" lines, then one "quantity item price" line per line item."""
        try:
            response = self.textract.analyze_expense(Document={"S3Object": {"Bucket": self.bucket, "Name": key}})
        except ClientError as error:
            raise _gone_or(error) from None
        lines = []
        for document in response.get("ExpenseDocuments", []):
            for summary in document.get("SummaryFields", []):
                label = summary.get("Type", {}).get("Text", "")
                value = summary.get("ValueDetection", {}).get("Text", "")
                lines.append(f"{label}: {value}")
            for group in document.get("LineItemGroups", []):
                for line_item in group.get("LineItems", []):
                    fields = {
                        f.get("Type", {}).get("Text"): f.get("ValueDetection", {}).get("Text", "")
                        for f in line_item.get("LineItemExpenseFields", [])
                    }
                    lines.append(
                        " ".join(str(v) for v in (fields.get("QUANTITY"), fields.get("ITEM"), fields.get("PRICE")) if v)
                    )
        return "\n".join(line for line in lines if line.strip())

    def original(self, key: str) -> bytes:
        """The bytes of an original in the bucket."""
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            raise _gone_or(error) from None


# An original that is not there (any more): the thumbnail generator removed it as unusable, or
# the receipt was deleted. Textract says so with InvalidS3ObjectException.
ORIGINAL_GONE_CODES = ("NoSuchKey", "InvalidS3ObjectException", "404")


def _gone_or(error: ClientError) -> Exception:
    if error.response.get("Error", {}).get("Code") in ORIGINAL_GONE_CODES:
        return NotFoundError("the image is gone")
    return error
