"""S3 for an export: the multipart upload the ZIP streams into, the originals it copies, and the
deletion of a ZIP nobody may download.

Every S3 call of the export is made here. S3 refusing a call (after the SDK's retries) is the
gateway's `StorageError`, which carries S3's error code; an original that no longer exists is
None. `MultipartUpload` is a write-only, non-seekable stream, which `zipfile` writes to (each
entry then carries a data descriptor): it keeps at most one part in memory and uploads each part
as it fills, so memory stays flat whatever the export's size, and nothing touches /tmp.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from receipt_vault import keys

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_SIZE = 8 * 1024 * 1024  # S3 wants at least 5 MiB for every part but the last
MAX_PARTS = 10_000  # S3's limit: 80 GB at this part size
MISSING_CODES = ("NoSuchKey", "404")


class StorageError(Exception):
    """An AWS storage call failed: its error code (`unknown` if it named none), and its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def storage_error(error: BaseException) -> StorageError | None:
    """A build's failure as a storage error, if it is one: the gateway's own, or a DynamoDB error,
    which the layer's stores hand on as botocore raised it. None for anything else."""
    if isinstance(error, StorageError):
        return error
    if isinstance(error, ClientError):
        return _storage_error(error)
    return None


def _storage_error(error: ClientError) -> StorageError:
    return StorageError(error.response.get("Error", {}).get("Code", "unknown"), str(error))


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        raise _storage_error(error) from error


class MultipartUpload(io.RawIOBase):
    """A write-only, non-seekable stream into one S3 object, SSE-KMS encrypted."""

    def __init__(self, s3: S3Client, bucket: str, key: str, kms_key_id: str, part_size: int = PART_SIZE) -> None:
        super().__init__()
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.part_size = part_size
        self.bytes_written = 0
        self._buffer = bytearray()
        self._parts: list[CompletedPartTypeDef] = []
        with _refusals():
            self._upload_id = s3.create_multipart_upload(
                Bucket=bucket,
                Key=key,
                ContentType="application/zip",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=kms_key_id,
            )["UploadId"]

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        written = memoryview(data).nbytes  # zipfile writes bytes: their length
        self._buffer += data
        self.bytes_written += written
        while len(self._buffer) >= self.part_size:
            self._upload_part(bytes(self._buffer[: self.part_size]))
            del self._buffer[: self.part_size]
        return written

    def complete(self) -> None:
        """Upload what is left as the last part and assemble the object."""
        if self._buffer or not self._parts:
            self._upload_part(bytes(self._buffer))
            self._buffer.clear()
        with _refusals():
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )

    def abort(self) -> None:
        """`StorageError` if S3 refuses, e.g. because the account deletion aborted it already."""
        with _refusals():
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)

    def _upload_part(self, body: bytes) -> None:
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise ValueError("the export exceeds S3's 10,000 parts")
        with _refusals():
            response = self.s3.upload_part(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
            )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})


class ExportGateway:
    def __init__(self, s3: S3Client, images_bucket: str, export_bucket: str, kms_key_id: str) -> None:
        self.s3 = s3
        self.images_bucket = images_bucket
        self.export_bucket = export_bucket
        self.kms_key_id = kms_key_id

    def start_upload(self, user_id: str, export_id: str) -> MultipartUpload:
        """The export's ZIP, as a multipart upload under the stack's KMS key."""
        return MultipartUpload(self.s3, self.export_bucket, keys.export_object_key(user_id, export_id), self.kms_key_id)

    def original(self, image_key: str) -> StreamingBody | None:
        """An original image's body, to read in chunks and close; None if it no longer exists."""
        try:
            return self.s3.get_object(Bucket=self.images_bucket, Key=image_key)["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in MISSING_CODES:
                return None
            raise _storage_error(error) from error

    def discard(self, user_id: str, export_id: str) -> None:
        """Delete a finished ZIP."""
        with _refusals():
            self.s3.delete_object(Bucket=self.export_bucket, Key=keys.export_object_key(user_id, export_id))
