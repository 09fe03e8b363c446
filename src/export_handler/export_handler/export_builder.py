"""What an export holds, written entry by entry into the streamed ZIP.

    manifest.json        schema version, counts, and every file's size and SHA-256
    receipts.json        every receipt in the range, as the API returns it (full fidelity)
    receipts.csv         one row per receipt, line items flattened readably, for spreadsheets
    categories.json      the default and custom categories
    settings.json        reminder settings and registered devices (never their endpoints)
    duplicates.json      what duplicate detection derived from each receipt, and review decisions
    inbound-mail.json    the inbound address's state, and the messages it received
    images/<receiptId>/<file>   the original images

Receipts are read page by page, once per entry that needs them, and images are copied in
chunks, so nothing grows with the number of receipts but the manifest's file list.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from export_handler.archive import ArchivedFile, ZipStream
from export_handler.export_gateway import ExportGateway, MultipartUpload, StorageError
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import DynamoTable
from receipt_vault.inbound_messages import inbound_mail_record
from receipt_vault.json_codec import to_json
from receipt_vault.settings_store import SettingsStore
from receipt_vault.shapes import DynamoItem, JsonObject
from receipt_vault.user_settings import settings_view

SCHEMA_VERSION = 1
CHUNK_SIZE = 1024 * 1024
CANCEL_CHECK_EVERY = 25  # images between checks that the export is still wanted
CSV_COLUMNS = (
    "receiptId",
    "status",
    "storeName",
    "purchaseDate",
    "totalAmount",
    "currency",
    "taxAmount",
    "category",
    "paymentMethod",
    "warrantyMonths",
    "warrantyExpiryDate",
    "tags",
    "items",
    "notes",
    "imageCount",
    "createdAt",
    "updatedAt",
    "deletedAt",
)
# Free text a spreadsheet could take for a formula (CSV injection): prefixed with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FREE_TEXT_COLUMNS = {"storeName", "category", "paymentMethod", "tags", "items", "notes"}


class ExportCancelledError(RuntimeError):
    """The export's job is gone: the account is being deleted."""


@dataclass(frozen=True)
class ExportFacts:
    receipt_count: int
    image_count: int
    missing_images: int
    size_bytes: int


def in_range(receipt: DynamoItem, date_from: str | None, date_to: str | None) -> bool:
    """Without a range, everything; with one, receipts whose purchase date lies inside it."""
    if date_from is None and date_to is None:
        return True
    purchased = receipt.get("purchaseDate")
    return purchased is not None and (date_from or "") <= purchased <= (date_to or "9999-12-31")


def _csv_cell(column: str, value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if column in FREE_TEXT_COLUMNS and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _items_text(items: list[JsonObject] | None) -> str:
    """`2 × Milk @ 1.09 = 2.18; 1 × Bread = 2.10`."""
    parts = []
    for item in items or []:
        text = f"{item.get('quantity', 1)} × {item['description']}"
        if item.get("unitPrice") is not None:
            text += f" @ {item['unitPrice']}"
        if item.get("totalPrice") is not None:
            text += f" = {item['totalPrice']}"
        parts.append(text)
    return "; ".join(parts)


def csv_row(receipt: JsonObject) -> list[str]:
    values = {
        **receipt,
        "tags": "; ".join(receipt.get("tags") or []),
        "items": _items_text(receipt.get("items")),
        "imageCount": len(receipt.get("imageKeys") or []),
    }
    return [_csv_cell(column, values.get(column)) for column in CSV_COLUMNS]


class ExportBuilder:
    def __init__(self, table: DynamoTable, gateway: ExportGateway) -> None:
        self.table = table
        self.gateway = gateway

    def build(
        self,
        user_id: str,
        export_id: str,
        date_from: str | None,
        date_to: str | None,
        still_wanted: Callable[[], bool],
        moment: dt.datetime,
    ) -> ExportFacts:
        # The category modules are loaded on the first build, not at cold start.
        from receipt_vault.categories import categories_view
        from receipt_vault.category_store import CategoryStore

        upload = self.gateway.start_upload(user_id, export_id)
        try:
            archive = ZipStream(upload)
            receipts: Callable[[], Iterator[JsonObject]] = lambda: self._receipts(  # noqa: E731 - one pass per entry
                user_id, date_from, date_to
            )
            archive.add("receipts.json", self._json_array(receipts()))
            archive.add("receipts.csv", self._csv(receipts()))
            categories = categories_view(CategoryStore(self.table).get(user_id))
            archive.add("categories.json", [_json_bytes(categories)])
            archive.add("settings.json", [_json_bytes(settings_view(SettingsStore(self.table).get(user_id)))])
            archive.add("duplicates.json", self._json_array(self._duplicate_records(user_id, date_from, date_to)))
            archive.add("inbound-mail.json", [_json_bytes(inbound_mail_record(self.table, user_id))])
            receipt_count, images, missing = 0, 0, []
            for receipt in receipts():
                receipt_count += 1
                for image_key in receipt.get("imageKeys") or []:
                    if images % CANCEL_CHECK_EVERY == 0 and not still_wanted():
                        raise ExportCancelledError(export_id)
                    if self._add_image(archive, receipt["receiptId"], image_key):
                        images += 1
                    else:
                        missing.append(image_key.rsplit("/", 1)[-1])
            manifest = _manifest(export_id, date_from, date_to, receipt_count, images, missing, archive.files, moment)
            archive.add("manifest.json", [_json_bytes(manifest)])
            archive.close()
            upload.complete()
        except BaseException:
            _abort_quietly(upload)
            raise
        return ExportFacts(receipt_count, images, len(missing), upload.bytes_written)

    def discard(self, user_id: str, export_id: str) -> None:
        """Delete a finished ZIP nobody may download (its job went away)."""
        self.gateway.discard(user_id, export_id)

    def _receipts(self, user_id: str, date_from: str | None, date_to: str | None) -> Iterator[JsonObject]:
        from receipt_vault.receipts.rules import to_api

        for item in self._stored_receipts(user_id, date_from, date_to):
            yield to_api(item)

    def _duplicate_records(self, user_id: str, date_from: str | None, date_to: str | None) -> Iterator[JsonObject]:
        from receipt_vault.duplicates.fingerprints import exported

        for item in self._stored_receipts(user_id, date_from, date_to):
            record = exported(item)
            if record is not None:
                yield record

    def _stored_receipts(self, user_id: str, date_from: str | None, date_to: str | None) -> Iterator[DynamoItem]:
        from receipt_vault.receipts.store import ReceiptStore

        for item in ReceiptStore(self.table).every_receipt(user_id):
            if in_range(item, date_from, date_to):
                yield item

    @staticmethod
    def _json_array(receipts: Iterator[JsonObject]) -> Iterator[bytes]:
        yield b"["
        for index, receipt in enumerate(receipts):
            yield (b",\n" if index else b"\n") + to_json(receipt).encode("utf-8")
        yield b"\n]\n"

    @staticmethod
    def _csv(receipts: Iterator[JsonObject]) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # a BOM: spreadsheets then read the file as UTF-8
        writer.writerow(CSV_COLUMNS)
        for receipt in receipts:
            writer.writerow(csv_row(receipt))
            if buffer.tell() > CHUNK_SIZE:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    def _add_image(self, archive: ZipStream, receipt_id: str, image_key: str) -> bool:
        """Copy one original into the archive; False if it no longer exists."""
        body = self.gateway.original(image_key)
        if body is None:
            return False
        with body:
            archive.add(f"images/{receipt_id}/{image_key.rsplit('/', 1)[-1]}", body.iter_chunks(CHUNK_SIZE))
        return True


def _json_bytes(value: object) -> bytes:
    return json.dumps(json.loads(to_json(value)), indent=2, ensure_ascii=False).encode("utf-8")


def _manifest(
    export_id: str,
    date_from: str | None,
    date_to: str | None,
    receipts: int,
    images: int,
    missing: list[str],
    files: list[ArchivedFile],
    moment: dt.datetime,
) -> JsonObject:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "exportId": export_id,
        "createdAt": iso_timestamp(moment),
        "range": {"from": date_from, "to": date_to},
        "counts": {"receipts": receipts, "images": images, "missingImages": len(missing)},
        "missingImages": missing,
        "files": [{"path": file.path, "bytes": file.bytes, "sha256": file.sha256} for file in files],
    }


def _abort_quietly(upload: MultipartUpload) -> None:
    with contextlib.suppress(StorageError):  # already aborted, e.g. by the account deletion
        upload.abort()
