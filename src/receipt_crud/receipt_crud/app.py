"""receipt-crud: the /receipts routes, the review of possible duplicates, and warranty claims. Business rules live
in the common layer; the review's in duplicate_review.py."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from receipt_crud.claims import ClaimService
from receipt_crud.duplicate_review import DuplicateReview
from receipt_crud.models import ClaimChange, ClaimOpening, DuplicatePairQuery, DuplicateResolution
from receipt_vault import init_phase
from receipt_vault.api import (
    build_api,
    current_user_id,
    make_lambda_handler,
    parse_body,
    parse_query,
    to_json,
)
from receipt_vault.clock import utc_now
from receipt_vault.duplicates.store import DuplicateStore
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.pagination import page_tokens_from_secret
from receipt_vault.receipts.models import ReceiptCreate, ReceiptListQuery, ReceiptUpdate, StatusChange
from receipt_vault.receipts.service import ReceiptService
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.rest import Response
from receipt_vault.settings import PaginatedApiSettings, load_settings
from receipt_vault.shapes import JsonObject

settings = load_settings(PaginatedApiSettings)
observability = setup_observability()
metrics = observability.metrics
app = build_api(settings, observability)
table = dynamodb_table(settings.table_name)
page_tokens = page_tokens_from_secret(settings.pagination_secret_arn, settings.region)
receipts = ReceiptService(ReceiptStore(table), page_tokens)
review = DuplicateReview(ReceiptStore(table), DuplicateStore(table), page_tokens)
claims = ClaimService(ReceiptStore(table))


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


@app.get("/receipts/duplicates")
def list_duplicate_pairs() -> JsonObject:
    return review.list_pairs(current_user_id(app), parse_query(app, DuplicatePairQuery))


@app.post("/receipts/<receiptId>/duplicates/<otherReceiptId>")
def resolve_duplicate_pair(receiptId: str, otherReceiptId: str) -> JsonObject:
    resolution = parse_body(app, DuplicateResolution)
    result, decided = review.resolve(current_user_id(app), receiptId, otherReceiptId, resolution, utc_now())
    if decided:  # not a retry's answer
        metrics.add_metric(name="DuplicatePairsResolved", unit=MetricUnit.Count, value=1)
    return result


@app.post("/receipts/<receiptId>/claims")
def open_claim(receiptId: str) -> Response[str]:
    receipt, added = claims.open(current_user_id(app), receiptId, parse_body(app, ClaimOpening), utc_now())
    return Response(status_code=201 if added else 200, content_type="application/json", body=to_json(receipt))


@app.patch("/receipts/<receiptId>/claims/<claimId>")
def change_claim(receiptId: str, claimId: str) -> JsonObject:
    return claims.change(current_user_id(app), receiptId, claimId, parse_body(app, ClaimChange), utc_now())


lambda_handler = make_lambda_handler(app, observability, table_name=settings.table_name)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
