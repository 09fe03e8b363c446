"""The AWS services a delivery touches besides DynamoDB: the raw message in the inbound bucket,
each receipt's original in the images bucket, and the refinement queue."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


class MailGateway:
    def __init__(
        self, s3: S3Client, sqs: SQSClient, inbound_bucket: str, images_bucket: str, kms_key_id: str, queue_url: str
    ) -> None:
        self.s3, self.sqs = s3, sqs
        self.inbound_bucket, self.images_bucket = inbound_bucket, images_bucket
        self.kms_key_id, self.queue_url = kms_key_id, queue_url

    def raw_message(self, key: str, max_bytes: int) -> bytes:
        """At most max_bytes + 1 bytes: enough to tell the message is too large, never more."""
        response = self.s3.get_object(Bucket=self.inbound_bucket, Key=key, Range=f"bytes=0-{max_bytes}")
        return response["Body"].read(max_bytes + 1)

    def discard(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.inbound_bucket, Key=key)

    def store_original(self, key: str, data: bytes, content_type: str) -> None:
        self.s3.put_object(
            Bucket=self.images_bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            # Opened as a download, never rendered in the bucket's origin (an HTML original).
            ContentDisposition="attachment",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.kms_key_id,
        )

    def request_refinement(self, user_id: str, receipt_id: str, image_key: str) -> None:
        body = {"userId": user_id, "receiptId": receipt_id, "imageKey": image_key}
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))
