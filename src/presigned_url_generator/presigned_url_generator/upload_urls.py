"""Pre-signed S3 URLs for a receipt's images: uploads of new originals, downloads of own originals.

An upload URL signs the content type, the exact length and `If-None-Match: *`, so S3 refuses any
other file or size, and a second upload through the same URL (the key exists: 412). It is valid
for URL_EXPIRY_SECONDS. It names no encryption: the bucket's default, SSE-KMS with the stack's
key, applies, and the bucket policy refuses an upload that asks for anything else. So the
answer carries no key ARN, and no account id with it. (Sending only `aws:kms`, without the key
id, would make S3 use the AWS managed key `aws/s3`, which the policy refuses too.) A URL is only
handed out for the caller's own, not deleted, receipt that has room for another image.
"""

from __future__ import annotations

import re

from presigned_url_generator.models import DownloadUrl, UploadUrl, UploadUrlRequest
from receipt_vault.errors import BadRequestError, NotFoundError, PayloadTooLargeError, VersionConflictError
from receipt_vault.images import MAX_IMAGES_PER_RECEIPT, ImageKey, thumbnail_url
from receipt_vault.receipts.rules import normalize_receipt_id, to_api
from receipt_vault.receipts.status import DELETED
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.s3_presigner import S3Presigner
from receipt_vault.settings import ImageUrlSettings
from receipt_vault.shapes import DynamoItem

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class ImageUrls:
    def __init__(self, presigner: S3Presigner, receipts: ReceiptStore, settings: ImageUrlSettings) -> None:
        self.presigner = presigner
        self.receipts = receipts
        self.settings = settings

    def upload_url(self, user_id: str, receipt_id: str, request: UploadUrlRequest) -> UploadUrl:
        if request.contentLength > self.settings.max_file_size:
            raise PayloadTooLargeError(f"an image may have at most {self.settings.max_file_size} bytes")
        receipt = self._own_receipt(user_id, receipt_id)
        if len(receipt.get("imageKeys") or ()) >= MAX_IMAGES_PER_RECEIPT:
            raise BadRequestError(f"a receipt holds at most {MAX_IMAGES_PER_RECEIPT} images")
        image = ImageKey.new_original(user_id, receipt["receiptId"], request.contentType)
        headers = {
            "Content-Type": request.contentType,
            "Content-Length": str(request.contentLength),
            "If-None-Match": "*",  # one upload per URL: a replay finds the key taken
        }
        if request.fileName:  # kept for the export; S3 metadata must be ASCII
            headers["x-amz-meta-original-filename"] = _UNSAFE_FILENAME.sub("_", request.fileName)[-100:]
        # Every header is signed: S3 refuses another type or length, and a second upload.
        url = self.presigner.url("PUT", self.settings.s3_bucket, image.key, self.settings.url_expiry_seconds, headers)
        return {
            "uploadUrl": url,
            "method": "PUT",
            "headers": headers,
            "imageId": image.image_id,
            "imageKey": image.key,
            "expiresIn": self.settings.url_expiry_seconds,
            "thumbnailUrl": thumbnail_url(self.settings.thumbnail_cdn_domain, image.thumbnail.key),
        }

    def download_url(self, user_id: str, receipt_id: str, image_id: str) -> DownloadUrl:
        receipt = self._own_receipt(user_id, receipt_id)
        listed = [ImageKey.parse(key) for key in receipt.get("imageKeys", [])]
        image = next((key for key in listed if key is not None and key.image_id == image_id.lower()), None)
        if image is None or image.user_id != user_id:
            raise NotFoundError("image not found")
        url = self.presigner.url("GET", self.settings.s3_bucket, image.key, self.settings.url_expiry_seconds)
        result: DownloadUrl = {"downloadUrl": url, "imageKey": image.key, "expiresIn": self.settings.url_expiry_seconds}
        if image.thumbnail.key in receipt.get("thumbnailKeys", []):
            result["thumbnailUrl"] = thumbnail_url(self.settings.thumbnail_cdn_domain, image.thumbnail.key)
        return result

    def _own_receipt(self, user_id: str, receipt_id: str) -> DynamoItem:
        """Another user's receipt is not found (never forbidden); a deleted one is a conflict."""
        receipt = self.receipts.get(user_id, normalize_receipt_id(receipt_id))
        if receipt is None:
            raise NotFoundError("receipt not found")
        if receipt.get("status") == DELETED:
            raise VersionConflictError("the receipt is deleted; restore it first", to_api(receipt))
        return receipt
