"""ocr-refine: POST /receipts/{receiptId}/refine turns OCR text into structured receipt data, and
so does each request on the refinement queue, for a receipt received by e-mail (inbound_mail)."""

from __future__ import annotations

import json
from typing import cast

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from ocr_refine.model_gateway import ModelGateway
from ocr_refine.models import RefineRequest
from ocr_refine.refine_service import Models, RefineService
from receipt_vault import init_phase
from receipt_vault.api import build_api, current_user_id, make_lambda_handler, parse_body
from receipt_vault.clients import lazy_client, new_client
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.erasure import ErasedAccounts
from receipt_vault.errors import ModelUnavailableError
from receipt_vault.observability import setup_observability
from receipt_vault.push import PushSender
from receipt_vault.push_gateway import PushGateway
from receipt_vault.quotas import DailyQuota
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.settings import OcrRefineSettings, load_settings
from receipt_vault.settings_store import SettingsStore
from receipt_vault.shapes import JsonObject

settings = load_settings(OcrRefineSettings)
observability = setup_observability()
metrics = observability.metrics
app = build_api(settings, observability)
# Per model at most two attempts (one retry with backoff) of at most 2 + 7 s: about 19 s. The
# fallback starts only with 20 s of the budget left, so both fit in API Gateway's 29 s.
BEDROCK_CONFIG = Config(connect_timeout=2, read_timeout=7, retries={"mode": "standard", "max_attempts": 2})
API_GATEWAY_MARGIN_SECONDS = 1.0  # API Gateway gives up at 29 s, the function at 30 s
UNITS = {
    "RefinementLatency": MetricUnit.Milliseconds,
    "RefinementConfidence": MetricUnit.NoUnit,
    "FallbackInvocations": MetricUnit.Count,
    "PushFailures": MetricUnit.Count,
}


def _record(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=UNITS[name], value=value)


table = dynamodb_table(settings.table_name)
refinements = RefineService(
    ReceiptStore(table),
    ModelGateway(
        new_client("bedrock-runtime", settings.region, BEDROCK_CONFIG),
        lazy_client("textract", settings.region),
        lazy_client("s3", settings.region),
        settings.s3_bucket,
    ),
    Models(settings.bedrock_model_id, settings.bedrock_fallback_model_id, settings.confidence_threshold),
    utc_now,
    _record,
    PushSender(
        PushGateway(lazy_client("sns", settings.region)),
        SettingsStore(table),
        ErasedAccounts(table),
        observability.logger,
    ),
    DailyQuota(table, "REFINE", settings.refine_daily_limit),
)


@app.post("/receipts/<receiptId>/refine")
def refine(receiptId: str) -> JsonObject:
    context = app.lambda_context
    return refinements.refine(
        current_user_id(app),
        receiptId,
        parse_body(app, RefineRequest, required=False),
        lambda: context.get_remaining_time_in_millis() / 1000 - API_GATEWAY_MARGIN_SECONDS,
    )


api_handler = make_lambda_handler(app, observability, table_name=settings.table_name)


@observability.logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def refine_queued(event: JsonObject, context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    """The queue's requests; one whose models were unavailable stays on the queue for a retry
    (ReportBatchItemFailures), and after three receives goes to its DLQ."""
    failures = []
    for record in event["Records"]:
        try:
            request = json.loads(record["body"])
            outcome = refinements.refine_received(
                str(request["userId"]),
                str(request["receiptId"]),
                str(request["imageKey"]),
                lambda: context.get_remaining_time_in_millis() / 1000,
            )
        except (ValueError, KeyError, TypeError):
            outcome = "skipped:malformed-request"  # a poison message: retrying cannot fix it
        except ModelUnavailableError:
            outcome = "retry:models-unavailable"
            failures.append({"itemIdentifier": record["messageId"]})
        observability.logger.info("queued refinement", extra={"outcome": outcome})
    return {"batchItemFailures": failures}


def lambda_handler(event: JsonObject, context: LambdaContext) -> JsonObject:
    """API Gateway's requests, and the refinement queue's batches (SQS records)."""
    if event.get("Records"):
        return cast("JsonObject", refine_queued(event, context))
    return api_handler(event, context)


init_phase.end()  # init is over: what it made is frozen, collecting resumes
