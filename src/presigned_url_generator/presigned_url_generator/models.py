"""The presigned-url-generator's request body and answers: only this function uses them."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict, get_args

from receipt_vault.images import CONTENT_TYPE_EXTENSIONS
from receipt_vault.model_base import ONE_LINE, InputModel, plain_text
from receipt_vault.validation import Integer, OneOf, Text, field, optional

ContentType = Literal["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "application/pdf"]
# The largest upload the contract allows (its model refuses more, a 400); MAX_FILE_SIZE may only
# lower it (413 above).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
assert set(get_args(ContentType)) == set(CONTENT_TYPE_EXTENSIONS)  # noqa: S101 (one allowlist, checked at import)


class UploadUrlRequest(InputModel):
    contentType: ContentType = field(OneOf(get_args(ContentType)))
    contentLength: int = field(Integer(ge=1, le=MAX_UPLOAD_BYTES))
    # A name with control or bidi characters is refused, not cleaned; any other name is kept,
    # spelled in ASCII for the S3 metadata.
    fileName: str | None = optional(Text(min_length=1, max_length=255, pattern=ONE_LINE), before=plain_text)


class UploadUrl(TypedDict):
    """POST /receipts/{receiptId}/images/upload-url (API.md)."""

    uploadUrl: str
    method: str
    headers: dict[str, str]
    imageId: str
    imageKey: str
    expiresIn: int
    thumbnailUrl: str


class DownloadUrl(TypedDict):
    """GET /receipts/{receiptId}/images/{imageId}/download-url (API.md)."""

    downloadUrl: str
    imageKey: str
    expiresIn: int
    thumbnailUrl: NotRequired[str]  # once the thumbnail exists
