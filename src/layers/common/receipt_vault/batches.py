"""Partial batch responses (ReportBatchItemFailures) for SQS and DynamoDB stream events.

Each record is processed on its own: one that raises is reported by its identifier and comes
back (SQS redelivers that message; a stream resumes at the earliest failed record), the others
are done. Powertools' batch utility does the same, but its import costs every cold start of the
functions that use it about 15 ms (bench/cold_start.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypedDict

from aws_lambda_powertools import Logger

from receipt_vault.shapes import JsonObject


class ItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


def sqs_message_id(record: JsonObject) -> str:
    return str(record["messageId"])


def stream_sequence_number(record: JsonObject) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def partial_batch_response(
    records: Iterable[JsonObject],
    process: Callable[[JsonObject], None],
    identifier: Callable[[JsonObject], str],
    logger: Logger,
) -> PartialBatchResponse:
    """Every record through `process`; the ones that raised, by `identifier`, for redelivery."""
    failures: list[ItemFailure] = []
    for record in records:
        try:
            process(record)
        except Exception as error:
            item = identifier(record)
            logger.warning("record failed; it is delivered again", extra={"item": item, "error": type(error).__name__})
            failures.append({"itemIdentifier": item})
    return {"batchItemFailures": failures}
