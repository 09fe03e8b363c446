"""export-handler: builds the exports queued by POST /user/export (SQS, one job per message)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from export_handler.export_builder import ExportBuilder
from export_handler.export_worker import ExportWorker
from receipt_vault.clients import LazyClient
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import CLIENT_CONFIG, dynamodb_table
from receipt_vault.export_jobs import ExportJobs
from receipt_vault.observability import hash_user_id, setup_observability
from receipt_vault.push import PushSender
from receipt_vault.settings import ExportHandlerSettings, load_settings

settings = load_settings(ExportHandlerSettings)
logger, tracer, metrics = setup_observability()
table = dynamodb_table(settings.table_name)


def _client(service: str) -> LazyClient:
    """Created on the first message, not at init: see the README's cold-start figures."""
    return LazyClient(lambda: boto3.client(service, region_name=settings.region, config=CLIENT_CONFIG))


s3 = _client("s3")
worker = ExportWorker(
    ExportJobs(table),
    ExportBuilder(table, s3, settings.s3_bucket, settings.export_bucket, settings.kms_key_id),
    PushSender(
        LazyClient(lambda: boto3.client("sns", region_name=settings.region, config=CLIENT_CONFIG)), table, logger
    ),
    utc_now,
    logger,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Partial batch responses: only a failed message is delivered again."""
    failures = []
    for record in event.get("Records", []):
        try:
            message = json.loads(record["body"])
            user_id, export_id = message["userId"], message["exportId"]
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable export message dropped", extra={"message_id": record.get("messageId")})
            continue  # a poison message: retrying cannot help
        try:
            delivery = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            outcome = worker.process(user_id, export_id, delivery)
            logger.info("export message", extra={"user_hash": hash_user_id(user_id), "outcome": outcome})
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
