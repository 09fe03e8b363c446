"""From an uploaded original to a thumbnail listed on its receipt.

Half of this function's invocations are S3 telling it about its own thumbnail writes, which
it ignores at once. So the S3 client and the imaging code (Pillow) are set up on first real
use, and those invocations never pay for them.

Permanent failures (a corrupt, unsupported or oversized file, a file that is not the type it
was uploaded as, or a receipt that no longer exists) are logged and counted, and the upload is
deleted: no retry could fix it, and a receipt never holds files it does not list (so the cap on
images per receipt bounds what a user can store). Transient failures (S3
or DynamoDB errors) raise, so Lambda retries the event twice and then hands it to the
thumbnail DLQ.

The image's fingerprints go onto its receipt with the image; duplicate-checker examines them
from the table's stream.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from receipt_imaging import UnusableImageError, text_page_thumbnail_and_dhash, thumbnail_and_dhash
from receipt_vault.clock import iso_timestamp, utc_now
from receipt_vault.duplicates.decisions import merged_into
from receipt_vault.html_text import visible_text
from receipt_vault.images import HTML_ORIGINAL, ORIGINAL, ImageKey
from receipt_vault.observability import hash_user_id
from receipt_vault.receipts.status import DELETED
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.settings import ThumbnailSettings
from receipt_vault.shapes import DynamoItem

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

METRIC_NAMESPACE = "ReceiptVault/Images"
THUMBNAIL_CACHE_CONTROL = "public, max-age=86400, immutable"


class ThumbnailPipeline:
    def __init__(
        self,
        s3: S3Client,
        receipts: ReceiptStore,
        settings: ThumbnailSettings,
        logger: Logger,
    ) -> None:
        self.s3 = s3  # clients.LazyClient: created on first use
        self.receipts = receipts
        self.settings = settings
        self.logger = logger

    def handle(self, bucket: str, key: str, size: int) -> str:
        """Process one uploaded object; returns what happened, for logs and tests."""
        image = ImageKey.parse(key)
        if image is None or image.variant != ORIGINAL:
            return "ignored"  # thumbnails land under the same notification prefix
        self.logger.append_keys(user_hash=hash_user_id(image.user_id))
        receipt = self.receipts.get(image.user_id, image.receipt_id)
        if receipt is None:
            return self._refuse(bucket, key, "receipt-missing")
        if key in receipt.get("imageKeys", []):
            return "already-done"  # a redelivered event
        if size > self.settings.max_file_size:
            return self._refuse(bucket, key, "too-large")
        original = self.s3.get_object(Bucket=bucket, Key=key)
        if original["ContentLength"] > self.settings.max_file_size:
            return self._refuse(bucket, key, "too-large")
        data = original["Body"].read()
        page = (self.settings.thumbnail_width, self.settings.thumbnail_height, self.settings.thumbnail_quality)
        try:
            if image.extension == HTML_ORIGINAL:  # an e-receipt received by e-mail: its text, as a page
                thumbnail, picture_hash = text_page_thumbnail_and_dhash(
                    visible_text(data.decode("utf-8", "replace")), *page
                )
            else:
                thumbnail, picture_hash = thumbnail_and_dhash(data, image.extension, *page)
        except UnusableImageError as error:
            return self._refuse(bucket, key, error.reason)
        fingerprint = {"sha256": hashlib.sha256(data).hexdigest(), "dhash": picture_hash}
        self.s3.put_object(
            Bucket=bucket,
            Key=image.thumbnail.key,
            Body=thumbnail,
            ContentType="image/jpeg",
            CacheControl=THUMBNAIL_CACHE_CONTROL,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.settings.kms_key_id,
        )
        now = iso_timestamp(utc_now())
        result = self.receipts.attach_image(
            image.user_id, image.receipt_id, image.key, image.thumbnail.key, now, fingerprint
        )
        if not result.succeeded and result.item is None:  # deleted while the thumbnail was made
            self.s3.delete_object(Bucket=bucket, Key=image.thumbnail.key)
            return self._refuse(bucket, key, "receipt-missing")
        if not result.succeeded and image.key not in (result.item or {}).get("imageKeys", []):
            for key in (image.key, image.thumbnail.key):  # the receipt is full: keep neither
                self.s3.delete_object(Bucket=bucket, Key=key)
            return self._drop("too-many-images")
        self._count("ThumbnailsGenerated")
        if not result.succeeded:
            return "already-done"
        self._follow_a_merge(image, result.item or {}, now, fingerprint)
        return "generated"

    def _follow_a_merge(self, image: ImageKey, receipt: DynamoItem, now: str, fingerprint: DynamoItem) -> None:
        """An upload still in flight when its receipt was merged into another one lands on the
        merged-away receipt: the image goes to the kept receipt too, as the merge's own images
        did, so it is not left on a receipt whose soft delete expires."""
        kept_id = merged_into(receipt) if receipt.get("status") == DELETED else None
        if kept_id is None:
            return
        moved = self.receipts.attach_image(image.user_id, kept_id, image.key, image.thumbnail.key, now, fingerprint)
        if not moved.succeeded and moved.item is not None and image.key not in moved.item.get("imageKeys", []):
            self.logger.warning("the kept receipt is full: the image stays on the merged-away one")

    def _refuse(self, bucket: str, key: str, reason: str) -> str:
        self.s3.delete_object(Bucket=bucket, Key=key)
        return self._drop(reason)

    def _drop(self, reason: str) -> str:
        self.logger.error("upload dropped: it cannot become a thumbnail", extra={"reason": reason})
        self._count("ThumbnailFailures", reason)
        return f"dropped:{reason}"

    @staticmethod
    def _count(name: str, reason: str | None = None) -> None:
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=METRIC_NAMESPACE) as metric:
            if reason:
                metric.add_dimension(name="Reason", value=reason)
