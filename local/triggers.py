"""Event sources, driven by each function's `Events` in the template: SQS, S3 and schedules.

- SQS: a poller per event source receives up to BatchSize messages and invokes the function
  with an SQS event. With ReportBatchItemFailures only the failed messages stay on the queue;
  otherwise a raised error keeps the whole batch. A failed message is made visible again at
  once (locally, nobody wants to wait out a 30-minute visibility timeout), and the queue's own
  redrive policy moves it to the DLQ after maxReceiveCount receives, as in AWS.
- S3: the bucket notifies an internal queue, as moto delivers S3 events only to SQS; a poller
  hands each record to the function as an S3 event.
- Schedules: cron and rate expressions fire on time (UTC), and on demand.
- DynamoDB streams: a poller per event source reads each shard from its StartingPosition and
  invokes the function with up to BatchSize records, in order, that pass its FilterCriteria
  (the others are checkpointed unseen). A failed batch is retried at once, from the lowest
  reported failure with ReportBatchItemFailures, in halves with BisectBatchOnFunctionError;
  after MaximumRetryAttempts (or past MaximumRecordAgeInSeconds) its records go to the
  OnFailure queue as Lambda describes them, and the shard moves on. Unbounded retries wait for
  the next poll, so a poison record holds its shard up without spinning the poller.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote_plus, unquote_plus

from botocore.exceptions import ClientError

from local.clock import clock_offset, epoch_seconds, iso_timestamp, utc_now
from local.emulation import make_dynamodb_streams_faithful
from local.schedule_expressions import Schedule
from receipt_vault.shapes import JsonObject, JsonValue

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_dynamodbstreams.literals import ShardIteratorTypeType
    from mypy_boto3_dynamodbstreams.type_defs import RecordTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import EventType
    from mypy_boto3_s3.type_defs import FilterRuleTypeDef, QueueConfigurationTypeDef
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

POLL_WAIT_SECONDS = 1
GET_RECORDS_LIMIT = 1000  # DynamoDB Streams' own maximum


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


class UnsupportedFilterError(ValueError):
    """A FilterCriteria pattern uses what the local filtering does not implement: refused when
    the source is wired, rather than matching what AWS would not (or the reverse)."""


def filter_pattern(text: str) -> JsonObject:
    """A FilterCriteria pattern, parsed and checked to use only what `pattern_matches` implements:
    objects, and lists of literal values or `{"prefix": "..."}`."""
    try:
        pattern = json.loads(text)
    except (TypeError, ValueError) as error:
        raise UnsupportedFilterError(f"the filter pattern is not JSON: {error}") from None
    if not isinstance(pattern, dict) or not pattern:
        raise UnsupportedFilterError(f"a filter pattern is a non-empty JSON object, not {text!r}")
    _check_pattern(pattern, "")
    return pattern


def _check_pattern(pattern: JsonObject, path: str) -> None:
    for key, expected in pattern.items():
        where = f"{path}.{key}" if path else key
        if isinstance(expected, dict) and expected:
            _check_pattern(expected, where)
        elif isinstance(expected, list) and expected:
            for entry in expected:
                if isinstance(entry, dict):
                    if set(entry) != {"prefix"} or not isinstance(entry["prefix"], str):
                        operators = ", ".join(sorted(entry)) or "{}"
                        raise UnsupportedFilterError(f"{where}: {operators} is not implemented locally (only prefix)")
                elif isinstance(entry, list):
                    raise UnsupportedFilterError(f"{where}: a list inside a list is not a filter pattern")
        else:
            raise UnsupportedFilterError(f"{where}: a pattern's values are objects or non-empty lists")


def pattern_matches(pattern: JsonObject, event: JsonValue) -> bool:
    """Lambda's event filtering, for patterns `filter_pattern` accepts: every key of the pattern
    is in the event; an object recurses, a list matches when the event's value (or one of its
    values, for a list) equals one of its literals or starts with one of its prefixes."""
    if not isinstance(event, dict):
        return False
    for key, expected in pattern.items():
        if key not in event:
            return False
        actual = event[key]
        if isinstance(expected, dict):
            if not pattern_matches(expected, actual):
                return False
            continue
        values = actual if isinstance(actual, list) else [actual]
        if not any(_entry_matches(entry, value) for entry in expected for value in values):
            return False
    return True


def _entry_matches(entry: JsonValue, value: JsonValue) -> bool:
    if isinstance(entry, dict):
        return isinstance(value, str) and value.startswith(entry["prefix"])
    if isinstance(entry, bool) or isinstance(value, bool):  # True is not 1
        return entry is value
    if isinstance(entry, int | float) and isinstance(value, int | float):
        return entry == value
    return type(entry) is type(value) and entry == value


@dataclass
class _Segment:
    """The records at the head of a shard that the next invocation delivers: retries and
    bisection shape it; a fresh one takes BatchSize records."""

    size: int  # how many of the head's matching records
    retries: int = 0  # since the checkpoint last moved; a split consumes none, as in AWS
    invocations: int = 0  # how often its records were delivered
    function_error: str | None = None  # of its last failed invocation ("Unhandled": it raised)


@dataclass
class _Outcome:
    """An invocation with a batch of stream records, as Lambda judges it."""

    failed_at: int | None  # the batch's first record to retry; None: all done
    whole: bool = False  # the batch failed as a whole (an error, or a response Lambda cannot use)
    function_error: str | None = None  # "Unhandled": the function raised
    detail: str = ""


@dataclass
class _Shard:
    iterator: str | None  # None: the shard is closed and read to its end
    last_read: str | None = None  # where to pick up again if the iterator expires
    pending: list[tuple[JsonObject, bool]] = field(default_factory=list)  # read, not done: (record, passes the filter)
    segments: list[_Segment] = field(default_factory=list)


@dataclass
class StreamSource:
    """A DynamoDB stream event source mapping, and how far it has got in each shard."""

    function: str
    function_arn: str
    stream_arn: str
    batch_size: int = 100
    starting_position: ShardIteratorTypeType = "TRIM_HORIZON"
    filter_patterns: list[str] = field(default_factory=list)  # FilterCriteria's Pattern strings, OR'ed
    report_item_failures: bool = False
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1  # -1: until the record is too old (AWS's default)
    maximum_record_age_seconds: int = -1  # -1: no limit
    on_failure_queue_url: str | None = None
    # shard id -> the sequence number of the last record done (delivered, filtered out or discarded)
    checkpoints: dict[str, str] = field(default_factory=dict)
    _patterns: list[JsonObject] = field(init=False, repr=False)
    _shards: dict[str, _Shard] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError(f"StartingPosition {self.starting_position} is not one of TRIM_HORIZON, LATEST")
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError(f"BatchSize {self.batch_size} is outside 1..10000")
        if not -1 <= self.maximum_retry_attempts <= 10_000:
            raise ValueError(f"MaximumRetryAttempts {self.maximum_retry_attempts} is outside -1..10000")
        if self.maximum_record_age_seconds != -1 and not 60 <= self.maximum_record_age_seconds <= 604_800:
            raise ValueError(f"MaximumRecordAgeInSeconds {self.maximum_record_age_seconds} is not -1 or 60..604800")
        self._patterns = [filter_pattern(text) for text in self.filter_patterns]

    def accepts(self, record: JsonObject) -> bool:
        return not self._patterns or any(pattern_matches(pattern, record) for pattern in self._patterns)


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
        self.streams: list[StreamSource] = []
        self._dynamodbstreams: DynamoDBStreamsClient | None = None
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

    def add_stream_source(self, streams: DynamoDBStreamsClient, source: StreamSource) -> None:
        make_dynamodb_streams_faithful()  # the stream as AWS writes it, in the stack or a test's moto
        self._dynamodbstreams = streams
        self.streams.append(source)

    def add_schedule(self, source: ScheduleSource) -> None:
        self.schedules[source.function] = source

    # -- running -------------------------------------------------------------------------------

    def start(self, run_schedules: bool = True) -> None:
        for source in self.queues:
            self._spawn(self._poll_forever, source)
        for stream in self.streams:
            self._spawn(self._poll_stream_forever, stream)
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

    # -- DynamoDB streams ----------------------------------------------------------------------

    def _poll_stream_forever(self, source: StreamSource) -> None:
        while not self._stop.is_set():
            try:
                self.poll_stream_once(source)
            except Exception as error:  # the emulator going away at shutdown, mostly
                if not self._stop.is_set():
                    self._record(source.function, "poll-error", repr(error))
            self._stop.wait(POLL_WAIT_SECONDS)

    def poll_stream_once(self, source: StreamSource) -> int:
        """Read each shard once and deliver what is pending, retries included (unless they are
        unbounded); returns how many records were read."""
        if not any(shard.iterator for shard in source._shards.values()):
            self._discover_shards(source)  # at the start, and when every known shard is closed
        read = 0
        for shard_id, shard in list(source._shards.items()):
            if shard.iterator is not None:
                read += self._read_shard(source, shard_id, shard, shard.iterator)
            self._deliver_stream(source, shard_id, shard)
        return read

    @property
    def _streams_client(self) -> DynamoDBStreamsClient:
        if self._dynamodbstreams is None:
            raise RuntimeError("no stream source was added")
        return self._dynamodbstreams

    def _discover_shards(self, source: StreamSource) -> None:
        """New shards, read from StartingPosition if the mapping has none yet; a shard that
        appears later (a child of a closed one) is read from its start, as Lambda does."""
        first = not source._shards
        client = self._streams_client
        description = client.describe_stream(StreamArn=source.stream_arn)["StreamDescription"]
        shards = description.get("Shards", [])
        while "LastEvaluatedShardId" in description:  # DescribeStream pages through the shards
            start = description["LastEvaluatedShardId"]
            description = client.describe_stream(StreamArn=source.stream_arn, ExclusiveStartShardId=start)[
                "StreamDescription"
            ]
            shards += description.get("Shards", [])
        for shard in shards:
            if shard["ShardId"] not in source._shards:
                position: ShardIteratorTypeType = source.starting_position if first else "TRIM_HORIZON"
                source._shards[shard["ShardId"]] = _Shard(self._shard_iterator(source, shard["ShardId"], position))

    def _shard_iterator(
        self, source: StreamSource, shard_id: str, position: ShardIteratorTypeType, after: str | None = None
    ) -> str:
        if after is not None:
            return self._streams_client.get_shard_iterator(
                StreamArn=source.stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=after,
            )["ShardIterator"]
        return self._streams_client.get_shard_iterator(
            StreamArn=source.stream_arn, ShardId=shard_id, ShardIteratorType=position
        )["ShardIterator"]

    def _read_shard(self, source: StreamSource, shard_id: str, shard: _Shard, iterator: str) -> int:
        try:
            response = self._streams_client.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                raise
            # Delivery took longer than an iterator lives (15 minutes): on from the last record read.
            shard.iterator = self._shard_iterator(source, shard_id, source.starting_position, after=shard.last_read)
            response = self._streams_client.get_records(ShardIterator=shard.iterator, Limit=GET_RECORDS_LIMIT)
        for raw in response.get("Records", []):
            record = self._stream_record(source, raw)
            shard.pending.append((record, source.accepts(record)))
            shard.last_read = record["dynamodb"]["SequenceNumber"]
        shard.iterator = response.get("NextShardIterator")
        return len(response.get("Records", []))

    def _stream_record(self, source: StreamSource, raw: RecordTypeDef) -> JsonObject:
        """A GetRecords record as Lambda's DynamoDB event carries it: the creation time in epoch
        seconds (on the stack's clock), binary attribute values in base64, this region's name."""
        change = raw.get("dynamodb", {})
        created = change.get("ApproximateCreationDateTime") or dt.datetime.now(dt.UTC)
        dynamodb: JsonObject = {
            "ApproximateCreationDateTime": int(created.timestamp() + clock_offset().total_seconds()),
            "Keys": _as_json(change.get("Keys", {})),
            **{image: _as_json(change[image]) for image in ("NewImage", "OldImage") if image in change},
            "SequenceNumber": change.get("SequenceNumber", ""),
            "SizeBytes": change.get("SizeBytes", 0),
            "StreamViewType": change.get("StreamViewType", ""),
        }
        record: JsonObject = {
            "eventID": raw.get("eventID", ""),
            "eventName": raw.get("eventName", ""),
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": dynamodb,
            "eventSourceARN": source.stream_arn,
        }
        if "userIdentity" in raw:  # a deletion by TTL
            record["userIdentity"] = dict(raw["userIdentity"])
        return record

    def _deliver_stream(self, source: StreamSource, shard_id: str, shard: _Shard) -> None:
        while True:
            self._skip_filtered(source, shard_id, shard)
            if not shard.pending:
                return
            if not shard.segments:
                shard.segments.append(_Segment(source.batch_size))
            segment = shard.segments[0]
            batch = [record for record, passes in shard.pending if passes][: segment.size]
            expired = self._expired(source, batch)
            if expired:
                self._discard(source, shard_id, shard, batch[:expired], "RecordAgeExceeded", segment)
                segment.size -= expired
                if segment.size <= 0 or not segment.invocations:  # a fresh batch is formed afresh
                    shard.segments.pop(0)
                continue
            segment.invocations += 1
            outcome = self._invoke_stream(source, batch)
            if outcome.failed_at is None:
                self._record(source.function, "dynamodb", f"{len(batch)} records")
                self._checkpoint(source, shard_id, shard, batch[-1])
                shard.segments.pop(0)
                continue
            failed_at, error = outcome.failed_at, outcome.function_error
            if outcome.whole and source.bisect_on_error and len(batch) > 1:
                half = len(batch) // 2
                shard.segments[0:1] = [
                    _Segment(half, segment.retries, segment.invocations, error),
                    _Segment(len(batch) - half, segment.retries, segment.invocations, error),
                ]
                self._record(source.function, "dynamodb-error", f"{len(batch)} records, bisected: {outcome.detail}")
                continue
            if failed_at > 0:  # the records before the first failure are done: a first retry of the rest
                self._checkpoint(source, shard_id, shard, batch[failed_at - 1])
                retried = _Segment(len(batch) - failed_at, 1, segment.invocations, error)
            else:
                retried = _Segment(len(batch), segment.retries + 1, segment.invocations, error)
            shard.segments[0] = retried
            first_failed = batch[failed_at]["dynamodb"]["SequenceNumber"]
            failure = f"{len(batch)} records, failed from {first_failed}: {outcome.detail}"
            if 0 <= source.maximum_retry_attempts < retried.retries:
                self._record(source.function, "dynamodb-error", f"{failure}; retries exhausted")
                self._discard(source, shard_id, shard, batch[failed_at:], "RetryAttemptsExhausted", retried)
                shard.segments.pop(0)
                continue
            self._record(source.function, "dynamodb-error", failure)
            if source.maximum_retry_attempts < 0:
                return  # unbounded: retried on the next poll

    def _invoke_stream(self, source: StreamSource, batch: list[JsonObject]) -> _Outcome:
        try:
            result = self.invoke(source.function, {"Records": batch})
        except Exception as error:
            return _Outcome(0, True, "Unhandled", repr(error))
        if not source.report_item_failures or result is None:
            return _Outcome(None)
        # As Lambda reads a partial batch response: an empty or absent list is a success; a
        # response it cannot read, or an identifier missing, empty or not in the batch, fails it all.
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if isinstance(result, dict) and not failures:
            return _Outcome(None)
        if not isinstance(failures, list):
            return _Outcome(0, True, None, f"unreadable partial batch response {result!r}"[:200])
        positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch)}
        failed = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
        if not all(isinstance(identifier, str) and identifier in positions for identifier in failed):
            return _Outcome(0, True, None, f"batchItemFailures names no record of the batch: {failures!r}"[:200])
        return _Outcome(min(positions[identifier] for identifier in failed), False, None, f"{len(failed)} reported")

    def _expired(self, source: StreamSource, batch: list[JsonObject]) -> int:
        """How many records at the batch's head are older than MaximumRecordAgeInSeconds."""
        if source.maximum_record_age_seconds < 0:
            return 0
        oldest = epoch_seconds() - source.maximum_record_age_seconds
        for index, record in enumerate(batch):  # in the order they were written
            if record["dynamodb"]["ApproximateCreationDateTime"] >= oldest:
                return index
        return len(batch)

    def _skip_filtered(self, source: StreamSource, shard_id: str, shard: _Shard) -> None:
        """Records at the head that no filter passes are done, as in AWS: never delivered."""
        while shard.pending and not shard.pending[0][1]:
            record, _ = shard.pending.pop(0)
            source.checkpoints[shard_id] = record["dynamodb"]["SequenceNumber"]

    def _checkpoint(self, source: StreamSource, shard_id: str, shard: _Shard, through: JsonObject) -> None:
        """Everything pending up to `through`, filtered-out records included, is done."""
        while shard.pending:
            record, _ = shard.pending.pop(0)
            source.checkpoints[shard_id] = record["dynamodb"]["SequenceNumber"]
            if record is through:
                return

    def _discard(
        self,
        source: StreamSource,
        shard_id: str,
        shard: _Shard,
        records: list[JsonObject],
        condition: str,
        segment: _Segment,
    ) -> None:
        """Move past records Lambda gives up on, telling the OnFailure destination (if any)
        about them in Lambda's own shape: the batch's metadata, not the records."""
        self._checkpoint(source, shard_id, shard, records[-1])
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        response: JsonObject = {"statusCode": 200, "executedVersion": "$LATEST"}
        if segment.function_error:
            response["functionError"] = segment.function_error
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": source.function_arn,
                "condition": condition,
                "approximateInvokeCount": segment.invocations,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": iso_timestamp(utc_now()),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _arrival(first["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _arrival(last["ApproximateCreationDateTime"]),
                "batchSize": len(records),
                "streamArn": source.stream_arn,
            },
        }
        detail = f"{condition}: {first['SequenceNumber']}..{last['SequenceNumber']}"
        if source.on_failure_queue_url:
            self.sqs.send_message(QueueUrl=source.on_failure_queue_url, MessageBody=json.dumps(message))
            self._record(source.function, "dynamodb-discarded", f"{detail}, sent to the OnFailure queue", False)
        else:
            self._record(source.function, "dynamodb-discarded", f"{detail}, no OnFailure destination", False)

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

    def _record(self, function: str, kind: str, detail: str, invoked: bool = True) -> None:
        if invoked:
            self.stats.invocations += 1
        if kind.endswith("error"):
            self.stats.failures += 1
        self.stats.history.append({"function": function, "kind": kind, "detail": detail[:500]})
        del self.stats.history[:-200]


def _as_json(value: object) -> JsonValue:
    """Attribute values as Lambda's JSON carries them: binary ones (B, BS) in base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_as_json(item) for item in value]
    return value


def _arrival(epoch: int) -> str:
    """An on-failure record's arrival time: ISO 8601 UTC, to the second."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
