"""A ZIP archive streamed straight into an S3 multipart upload.

`zipfile` writes to any non-seekable stream (each entry then carries a data descriptor), and
`MultipartUpload` is such a stream: it keeps at most one part in memory and uploads each part
as it fills. Memory therefore stays flat whatever the export's size, and nothing touches /tmp.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_SIZE = 8 * 1024 * 1024  # S3 wants at least 5 MiB for every part but the last
MAX_PARTS = 10_000  # S3's limit: 80 GB at this part size


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
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
        )

    def abort(self) -> None:
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)

    def _upload_part(self, body: bytes) -> None:
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise ValueError("the export exceeds S3's 10,000 parts")
        response = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})


@dataclass(frozen=True)
class ArchivedFile:
    path: str
    bytes: int
    sha256: str


class ZipStream:
    """Entries written one after another, each checksummed on the way for the manifest."""

    # Photos and PDFs are compressed already, so the fastest deflate level: low CPU, and readable
    # by every unzip tool (stored entries behind data descriptors are not).
    COMPRESS_LEVEL = 1

    def __init__(self, sink: io.RawIOBase) -> None:
        self.zip = zipfile.ZipFile(
            sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=self.COMPRESS_LEVEL, allowZip64=True
        )
        self.files: list[ArchivedFile] = []

    def add(self, path: str, chunks: Iterable[bytes]) -> ArchivedFile:
        digest, size = hashlib.sha256(), 0
        with self.zip.open(path, mode="w", force_zip64=True) as entry:
            for chunk in chunks:
                entry.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        archived = ArchivedFile(path, size, digest.hexdigest())
        self.files.append(archived)
        return archived

    def close(self) -> None:
        self.zip.close()
