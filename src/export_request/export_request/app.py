"""export-request: POST /user/export queues an export; GET /user/export/{exportId} reports it.

The build itself runs in the export-handler, behind the export queue, with reserved
concurrency 2: these routes stay responsive however many exports are being built.
"""

from __future__ import annotations

import json

from export_request.export_status import ExportService
from export_request.models import ExportRequest
from receipt_vault import init_phase
from receipt_vault.api import build_api, current_user_id, make_lambda_handler, parse_body, to_json
from receipt_vault.clients import lazy_client
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.export_jobs import ExportJobs
from receipt_vault.observability import setup_observability
from receipt_vault.rest import Response
from receipt_vault.s3_presigner import S3Presigner, default_credentials
from receipt_vault.settings import ExportRequestSettings, load_settings
from receipt_vault.shapes import JsonObject

settings = load_settings(ExportRequestSettings)
observability = setup_observability()
app = build_api(settings, observability)
sqs = lazy_client("sqs", settings.region)
exports = ExportService(
    ExportJobs(dynamodb_table(settings.table_name)),
    lambda message: sqs.send_message(QueueUrl=settings.export_queue_url, MessageBody=json.dumps(message)),
    S3Presigner(default_credentials(), settings.region),
    settings.export_bucket,
    settings.export_max_in_progress,
    settings.export_daily_limit,
)


@app.post("/user/export")
def request_export() -> Response[str]:
    job = exports.request(current_user_id(app), parse_body(app, ExportRequest, required=False), utc_now())
    return Response(status_code=202, content_type="application/json", body=to_json(job))


@app.get("/user/export/<exportId>")
def export_status(exportId: str) -> JsonObject:
    return exports.status(current_user_id(app), exportId, utc_now())


lambda_handler = make_lambda_handler(app, observability, table_name=settings.table_name)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
