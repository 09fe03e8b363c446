"""receipt-crud: the seven /receipts routes. Business rules live in the common layer."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from receipt_vault.api import (
    build_api,
    current_user_id,
    make_lambda_handler,
    parse_body,
    parse_query,
    to_json,
)
from receipt_vault.clock import utc_now
from receipt_vault.duplicates.setup import duplicate_detector
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.pagination import page_tokens_from_secret
from receipt_vault.receipts.models import ReceiptCreate, ReceiptListQuery, ReceiptUpdate, StatusChange
from receipt_vault.receipts.service import ReceiptService
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.settings import PaginatedApiSettings, load_settings
from receipt_vault.shapes import JsonObject

settings = load_settings(PaginatedApiSettings)
observability = setup_observability()
metrics = observability.metrics
app = build_api(settings, observability)
table = dynamodb_table(settings.table_name)
receipts = ReceiptService(
    ReceiptStore(table),
    page_tokens_from_secret(settings.pagination_secret_arn, settings.region),
    duplicate_detector(table, observability.logger),
)


@app.post("/receipts")
def create_receipt() -> Response[str]:
    receipt, created = receipts.create(current_user_id(app), parse_body(app, ReceiptCreate), utc_now())
    if created:
        metrics.add_metric(name="ReceiptCreateCount", unit=MetricUnit.Count, value=1)
    return Response(status_code=201 if created else 200, content_type="application/json", body=to_json(receipt))


@app.get("/receipts")
def list_receipts() -> JsonObject:
    return receipts.list_receipts(current_user_id(app), parse_query(app, ReceiptListQuery))


@app.get("/receipts/<receiptId>")
def get_receipt(receiptId: str) -> JsonObject:
    return receipts.get(current_user_id(app), receiptId)


@app.put("/receipts/<receiptId>")
def update_receipt(receiptId: str) -> JsonObject:
    return receipts.update(current_user_id(app), receiptId, parse_body(app, ReceiptUpdate), utc_now())


@app.delete("/receipts/<receiptId>")
def delete_receipt(receiptId: str) -> JsonObject:
    return receipts.delete(current_user_id(app), receiptId, utc_now())


@app.post("/receipts/<receiptId>/restore")
def restore_receipt(receiptId: str) -> JsonObject:
    return receipts.restore(current_user_id(app), receiptId, utc_now())


@app.patch("/receipts/<receiptId>/status")
def change_status(receiptId: str) -> JsonObject:
    return receipts.change_status(current_user_id(app), receiptId, parse_body(app, StatusChange), utc_now())


lambda_handler = make_lambda_handler(app, observability, table_name=settings.table_name)
