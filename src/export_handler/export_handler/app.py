"""export-handler: builds the exports queued by POST /user/export (SQS, one job per message)."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.typing import LambdaContext

from export_handler.export_builder import ExportBuilder
from export_handler.export_gateway import ExportGateway
from export_handler.export_worker import ExportWorker
from receipt_vault import init_phase
from receipt_vault.batches import PartialBatchResponse, partial_batch_response, sqs_message_id
from receipt_vault.clients import lazy_client
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.erasure import ErasedAccounts
from receipt_vault.export_jobs import ExportJobs
from receipt_vault.observability import hash_user_id, setup_observability
from receipt_vault.push import PushSender
from receipt_vault.push_gateway import PushGateway
from receipt_vault.settings import ExportHandlerSettings, load_settings
from receipt_vault.settings_store import SettingsStore
from receipt_vault.shapes import JsonObject

settings = load_settings(ExportHandlerSettings)
logger, tracer, metrics = setup_observability()
table = dynamodb_table(settings.table_name)
# Created on the first message, not at init: see the cold-start figures in bench/RESULTS.md.
s3 = lazy_client("s3", settings.region)
worker = ExportWorker(
    ExportJobs(table),
    ExportBuilder(table, ExportGateway(s3, settings.s3_bucket, settings.export_bucket, settings.kms_key_id)),
    PushSender(PushGateway(lazy_client("sns", settings.region)), SettingsStore(table), ErasedAccounts(table), logger),
    utc_now,
    logger,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: JsonObject, context: LambdaContext) -> PartialBatchResponse:
    # Partial batch responses: only a failed message is delivered again. A batch whose every message
    # failed is answered so too, not raised: a message for an export being built elsewhere is no error.
    return partial_batch_response(event["Records"], export_message, sqs_message_id, logger)


def export_message(record: JsonObject) -> None:
    """One job; raises when the message should be delivered again."""
    try:
        message = json.loads(record["body"])
        user_id, export_id = message["userId"], message["exportId"]
    except (ValueError, KeyError, TypeError):
        logger.error("unreadable export message dropped", extra={"message_id": record["messageId"]})
        return  # a poison message: retrying cannot help
    delivery = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))  # 1 if hand-made
    outcome = worker.process(user_id, export_id, delivery)
    logger.info("export message", extra={"user_hash": hash_user_id(user_id), "outcome": outcome})


init_phase.end()  # init is over: what it made is frozen, collecting resumes
