"""The table's stream, delivered to duplicate-checker in-process as Lambda's event source mapping
delivers it: the local stack's own stream source (local.triggers), configured from the
template's `ReceiptChanges` event, polled on demand instead of on a thread."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import boto3

from local.cfn_template import load_template
from local.triggers import StreamSource, Triggers
from receipt_vault.shapes import JsonObject, JsonValue
from tests.support.api_events import lambda_context

CHECKER_ID = "DuplicateCheckerFunction"
DEAD_LETTER_QUEUE = "duplicate-check-dlq"


class ReceiptChanges:
    def __init__(self, checker: ModuleType, table_name: str) -> None:
        mapping = load_template()["Resources"][CHECKER_ID]["Properties"]["Events"]["ReceiptChanges"]["Properties"]
        stream_arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        sqs = boto3.client("sqs")
        self.dead_letter_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
        self.checker = checker
        self.checking = True
        self.delivered = 0  # records handed to the checker
        self.responses: list[JsonValue] = []
        region = boto3.session.Session().region_name or "eu-west-1"
        self.triggers = Triggers(sqs, self._invoke, region, "123456789012")
        self.source = StreamSource(
            function=CHECKER_ID,
            function_arn=f"arn:aws:lambda:{region}:123456789012:function:duplicate-checker",
            stream_arn=stream_arn,
            batch_size=mapping["BatchSize"],
            starting_position=mapping["StartingPosition"],
            filter_patterns=[entry["Pattern"] for entry in mapping["FilterCriteria"]["Filters"]],
            report_item_failures="ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
            bisect_on_error=mapping["BisectBatchOnFunctionError"],
            maximum_retry_attempts=mapping["MaximumRetryAttempts"],
            maximum_record_age_seconds=mapping["MaximumRecordAgeInSeconds"],
            on_failure_queue_url=self.dead_letter_url,
        )
        self.triggers.add_stream_source(boto3.client("dynamodbstreams"), self.source)

    def _invoke(self, _function: str, event: JsonValue) -> JsonValue:
        assert isinstance(event, dict)
        if not self.checking:
            return {"batchItemFailures": []}
        self.delivered += len(event["Records"])
        response = self.checker.lambda_handler(event, lambda_context("duplicate-checker"))
        self.responses.append(response)
        return response

    def deliver(self) -> int:
        """Every change written since the last delivery, handed to the checker (and the changes
        its own writes made, until none is left); how many records the checker was handed."""
        before = self.delivered
        while self.triggers.poll_stream_once(self.source):
            pass
        return self.delivered - before

    def skip(self) -> None:
        """Past every change written so far, unchecked (an account a test seeded)."""
        self.checking = False
        try:
            self.deliver()
        finally:
            self.checking = True

    def dead_letters(self) -> list[JsonObject]:
        messages: list[Any] = (
            boto3.client("sqs")
            .receive_message(QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            .get("Messages", [])
        )
        return [json.loads(message["Body"]) for message in messages]
