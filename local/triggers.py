"""Event sources, driven by each function's `Events` in the template: SQS, S3 and schedules.

- SQS: a poller per event source receives up to BatchSize messages and invokes the function
  with an SQS event. With ReportBatchItemFailures only the failed messages stay on the queue;
  otherwise a raised error keeps the whole batch. A failed message is made visible again at
  once (locally, nobody wants to wait out a 30-minute visibility timeout), and the queue's own
  redrive policy moves it to the DLQ after maxReceiveCount receives, as in AWS.
- S3: the bucket notifies an internal queue, as moto delivers S3 events only to SQS; a poller
  hands each record to the function as an S3 event.
- Schedules: cron and rate expressions fire on time (UTC), and on demand.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote_plus, unquote_plus

from local.clock import utc_now
from local.schedule_expressions import Schedule
from receipt_vault.shapes import JsonObject, JsonValue

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import EventType
    from mypy_boto3_s3.type_defs import FilterRuleTypeDef, QueueConfigurationTypeDef
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

POLL_WAIT_SECONDS = 1


def _as_aws_encodes(key: str) -> str:
    """S3 events carry keys URL-encoded with `+` for spaces but `/` left alone; moto also
    encodes `/`. Functions decode with unquote_plus either way."""
    return quote_plus(unquote_plus(key), safe="/")


@dataclass
class QueueSource:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_item_failures: bool = False
    s3_notifications: bool = False


@dataclass
class ScheduleSource:
    function: str
    name: str
    schedule: Schedule
    payload: JsonValue = None
    next_run: dt.datetime | None = None


@dataclass
class TriggerStats:
    invocations: int = 0
    failures: int = 0
    history: list[dict[str, str]] = field(default_factory=list)


class Triggers:
    def __init__(
        self, sqs: SQSClient, invoke: Callable[[str, JsonValue], JsonValue], region: str, account: str
    ) -> None:
        self.sqs = sqs
        self.invoke = invoke
        self.region = region
        self.account = account
        self.queues: list[QueueSource] = []
        self.schedules: dict[str, ScheduleSource] = {}
        self.stats = TriggerStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- wiring --------------------------------------------------------------------------------

    def add_queue(self, source: QueueSource) -> None:
        self.queues.append(source)

    def add_s3_source(
        self, s3: S3Client, function: str, bucket: str, events: list[EventType], rules: list[FilterRuleTypeDef]
    ) -> None:
        name = f"local-s3-events-{function}"[:80]
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        configuration: QueueConfigurationTypeDef = {"QueueArn": arn, "Events": events}
        if rules:
            configuration["Filter"] = {"Key": {"FilterRules": rules}}
        existing = s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations", [])
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [*existing, configuration]}
        )
        self.queues.append(QueueSource(function, url, arn, batch_size=10, s3_notifications=True))

    def add_schedule(self, source: ScheduleSource) -> None:
        self.schedules[source.function] = source

    # -- running -------------------------------------------------------------------------------

    def start(self, run_schedules: bool = True) -> None:
        for source in self.queues:
            self._spawn(self._poll_forever, source)
        if run_schedules and self.schedules:
            self._spawn(self._schedule_forever)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=POLL_WAIT_SECONDS + 5)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _poll_forever(self, source: QueueSource) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(source)
            except Exception as error:  # the emulator going away at shutdown, mostly
                if not self._stop.is_set():
                    self._record(source.function, "poll-error", repr(error))
                    self._stop.wait(POLL_WAIT_SECONDS)

    def poll_once(self, source: QueueSource) -> int:
        """Receive one batch and deliver it; returns how many messages were received."""
        messages = self.sqs.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=min(source.batch_size, 10),
            WaitTimeSeconds=POLL_WAIT_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if source.s3_notifications:
            self._deliver_s3(source, messages)
        elif messages:
            self._deliver_sqs(source, messages)
        return len(messages)

    def _deliver_sqs(self, source: QueueSource, messages: list[MessageTypeDef]) -> None:
        event = {"Records": [self._sqs_record(source, message) for message in messages]}
        failed: set[str] = set()
        try:
            result = self.invoke(source.function, event)
            if source.report_item_failures and isinstance(result, dict):
                failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
            self._record(source.function, "sqs", f"{len(messages)} messages, {len(failed)} failed")
        except Exception as error:
            failed = {message["MessageId"] for message in messages}
            self._record(source.function, "sqs-error", repr(error))
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _deliver_s3(self, source: QueueSource, messages: list[MessageTypeDef]) -> None:
        for message in messages:
            records = json.loads(message["Body"]).get("Records", [])  # moto also sends an s3:TestEvent
            for record in records:
                record["s3"]["object"]["key"] = _as_aws_encodes(record["s3"]["object"]["key"])
            try:
                if records:
                    self.invoke(source.function, {"Records": records})
                    self._record(source.function, "s3", records[0]["s3"]["object"]["key"])
            except Exception as error:
                # S3 invokes asynchronously: Lambda retries twice, then the event is dropped.
                self._record(source.function, "s3-error", repr(error))
            self.sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _sqs_record(self, source: QueueSource, message: MessageTypeDef) -> JsonObject:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": self.region,
        }

    # -- schedules -----------------------------------------------------------------------------

    def fire(self, function: str, at: dt.datetime | None = None) -> JsonValue:
        """Invoke a scheduled function with the event its schedule would send now, or at `at`
        (to replay a given day's run)."""
        source = self.schedules[function]
        now = at or utc_now()
        event = (
            source.payload
            if source.payload is not None
            else {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": self.account,
                "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "resources": [f"arn:aws:events:{self.region}:{self.account}:rule/{source.name}"],
                "detail": {},
            }
        )
        result = self.invoke(function, event)
        self._record(function, "schedule", source.schedule.expression)
        return result

    def _schedule_forever(self) -> None:
        while not self._stop.is_set():
            now = utc_now()
            for function, source in self.schedules.items():
                source.next_run = source.next_run or source.schedule.next_after(now)
                if now >= source.next_run:
                    source.next_run = source.schedule.next_after(now)
                    try:
                        self.fire(function)
                    except Exception as error:
                        self._record(function, "schedule-error", repr(error))
            self._stop.wait(1)

    def _record(self, function: str, kind: str, detail: str) -> None:
        self.stats.invocations += 1
        if kind.endswith("error"):
            self.stats.failures += 1
        self.stats.history.append({"function": function, "kind": kind, "detail": detail[:500]})
        del self.stats.history[:-200]
