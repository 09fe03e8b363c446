"""duplicate-checker: flags possible duplicate receipts, from the table's stream of receipt changes."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from duplicate_checker.receipt_checks import ReceiptChecks
from receipt_vault import init_phase, keys
from receipt_vault.batches import PartialBatchResponse, partial_batch_response, stream_sequence_number
from receipt_vault.clock import utc_now
from receipt_vault.duplicates.setup import duplicate_detector
from receipt_vault.duplicates.store import DuplicateStore
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.erasure import ErasedAccounts
from receipt_vault.observability import hash_user_id, setup_observability
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.settings import DuplicateCheckerSettings, load_settings
from receipt_vault.shapes import JsonObject

settings = load_settings(DuplicateCheckerSettings)
logger, tracer, metrics = setup_observability()
table = dynamodb_table(settings.table_name)
checks = ReceiptChecks(
    ReceiptStore(table), DuplicateStore(table), ErasedAccounts(table), duplicate_detector(table, logger), utc_now
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: JsonObject, context: LambdaContext) -> PartialBatchResponse:
    checks_of_batch = checks.for_one_batch()

    def check_record(record: JsonObject) -> None:
        changed = record["dynamodb"]["Keys"]
        user_id = keys.user_id_of(changed["PK"]["S"])
        receipt_id = changed["SK"]["S"].removeprefix(keys.RECEIPT_PREFIX)
        outcome = checks_of_batch.check(user_id, receipt_id)
        logger.info("receipt checked", extra={"user_hash": hash_user_id(user_id), "outcome": outcome})

    # Partial batch responses: the stream resumes at the first failed record, not at the batch's start.
    return partial_batch_response(event["Records"], check_record, stream_sequence_number, logger)


init_phase.end()  # init is over: what it made is frozen, collecting resumes
