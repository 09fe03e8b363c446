"""thumbnail-generator: a 200x300 JPEG for every original uploaded under users/*/receipts/*/original/."""

from __future__ import annotations

from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext

from receipt_vault import init_phase
from receipt_vault.clients import lazy_client
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.settings import ThumbnailSettings, load_settings
from receipt_vault.shapes import JsonObject
from thumbnail_generator.thumbnail_pipeline import ThumbnailPipeline

settings = load_settings(ThumbnailSettings)
logger, tracer, metrics = setup_observability()
table = dynamodb_table(settings.table_name)
pipeline = ThumbnailPipeline(
    lazy_client("s3", settings.region),
    ReceiptStore(table),
    settings,
    logger,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: JsonObject, context: LambdaContext) -> dict[str, list[str]]:
    outcomes = []
    for record in event.get("Records", []):
        s3 = record["s3"]
        # S3 events URL-encode keys, with "+" for spaces.
        key = unquote_plus(s3["object"]["key"])
        outcomes.append(pipeline.handle(s3["bucket"]["name"], key, int(s3["object"].get("size", 0))))
    logger.info("uploads processed", extra={"outcomes": outcomes})
    return {"outcomes": outcomes}


init_phase.end()  # init is over: what it made is frozen, collecting resumes
