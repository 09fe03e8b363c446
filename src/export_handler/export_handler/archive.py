"""A ZIP archive written entry by entry into a non-seekable stream.

`zipfile` writes to any non-seekable stream (each entry then carries a data descriptor): the
export's is an S3 multipart upload (export_gateway.MultipartUpload), so the ZIP is never held
whole, in memory or in /tmp.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass


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
