"""presigned-url-generator: pre-signed upload and download URLs for a receipt's images."""

from __future__ import annotations

from presigned_url_generator.models import DownloadUrl, UploadUrl, UploadUrlRequest
from presigned_url_generator.upload_urls import ImageUrls
from receipt_vault import init_phase
from receipt_vault.api import build_api, current_user_id, make_lambda_handler, parse_body
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.s3_presigner import S3Presigner, default_credentials
from receipt_vault.settings import ImageUrlSettings, load_settings

settings = load_settings(ImageUrlSettings)
observability = setup_observability()
app = build_api(settings, observability)
# Signs for the regional virtual-host endpoint: a new bucket's global name may redirect, which
# breaks a signed PUT.
presigner = S3Presigner(default_credentials(), settings.region)
image_urls = ImageUrls(presigner, ReceiptStore(dynamodb_table(settings.table_name)), settings)


@app.post("/receipts/<receiptId>/images/upload-url")
def upload_url(receiptId: str) -> UploadUrl:
    return image_urls.upload_url(current_user_id(app), receiptId, parse_body(app, UploadUrlRequest))


@app.get("/receipts/<receiptId>/images/<imageId>/download-url")
def download_url(receiptId: str, imageId: str) -> DownloadUrl:
    return image_urls.download_url(current_user_id(app), receiptId, imageId)


lambda_handler = make_lambda_handler(app, observability, table_name=settings.table_name)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
