"""The local DynamoDB stream event source (local/triggers.py), as Lambda's mapping behaves: order and
batch size, filtering, partial batch responses, bisection, retries and the OnFailure queue, and
its wiring from template.yaml. Polls are driven one at a time, with a stand-in function."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from local import triggers as triggers_module
from local.cfn_template import load_template, table_definition
from local.intrinsics import ACCOUNT_ID
from local.provision import LocalResources
from local.stack import LocalStack, StackConfig, _Running
from local.triggers import StreamSource, Triggers, UnsupportedFilterError, filter_pattern, pattern_matches

TEMPLATE = load_template()
REGION = "eu-west-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:stand-in"
TEMPLATE_EVENT = TEMPLATE["Resources"]["DuplicateCheckerFunction"]["Properties"]["Events"]["ReceiptChanges"]
TEMPLATE_PATTERN = TEMPLATE_EVENT["Properties"]["FilterCriteria"]["Filters"][0]["Pattern"]


class StandIn:
    """The function: records each batch's sort keys, and answers as `respond` says."""

    def __init__(self, respond: Callable[[list[dict[str, Any]]], Any] = lambda records: None) -> None:
        self.respond = respond
        self.events: list[dict[str, Any]] = []

    def __call__(self, function: str, event: Any) -> Any:
        self.events.append(json.loads(json.dumps(event)))  # as the function receives it: JSON
        return self.respond(event["Records"])

    @property
    def batches(self) -> list[list[str]]:
        return [[sort_key(record) for record in event["Records"]] for event in self.events]


def sort_key(record: dict[str, Any]) -> str:
    return record["dynamodb"]["Keys"]["SK"]["S"]


def failing_on(*poison: str) -> Callable[[list[dict[str, Any]]], None]:
    def respond(records: list[dict[str, Any]]) -> None:
        if any(sort_key(record) in poison for record in records):
            raise RuntimeError("poison record")

    return respond


@pytest.fixture
def stream(aws) -> SimpleNamespace:
    """The table as template.yaml declares it (stream included), a DLQ, and triggers around a stand-in."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = dynamodb.create_table(**table_definition(TEMPLATE, "ReceiptVaultTable", "ReceiptVault-streams"))
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="stream-dlq")["QueueUrl"]
    function = StandIn()
    return SimpleNamespace(
        dynamodb=dynamodb,
        arn=table["TableDescription"]["LatestStreamArn"],
        sqs=sqs,
        dlq=dlq,
        function=function,
        triggers=Triggers(sqs, function, REGION, ACCOUNT_ID),
    )


def source(stream: SimpleNamespace, **options: Any) -> StreamSource:
    wired = StreamSource("StandInFunction", FUNCTION_ARN, stream.arn, **options)
    stream.triggers.add_stream_source(boto3.client("dynamodbstreams", region_name=REGION), wired)
    return wired


WRITES = itertools.count()


def put(stream: SimpleNamespace, *sort_keys: str, owner: str = "USER#u1") -> None:
    """Each write changes its item (a write that changes nothing has no stream record)."""
    for key in sort_keys:
        item = {"PK": {"S": owner}, "SK": {"S": key}, "n": {"N": str(next(WRITES))}}
        stream.dynamodb.put_item(TableName="ReceiptVault-streams", Item=item)


def sequence_numbers(stream: SimpleNamespace) -> dict[str, str]:
    """Each record's sequence number by sort key (the last record of a key wins)."""
    client = boto3.client("dynamodbstreams", region_name=REGION)
    shard = client.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(StreamArn=stream.arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = client.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return {record["dynamodb"]["Keys"]["SK"]["S"]: record["dynamodb"]["SequenceNumber"] for record in records}


def dead_letters(stream: SimpleNamespace) -> list[dict[str, Any]]:
    messages = stream.sqs.receive_message(QueueUrl=stream.dlq, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


# -- delivery -------------------------------------------------------------------------------------


def test_records_arrive_in_order_at_most_batch_size_at_a_time_as_lambdas_dynamodb_event(stream):
    wired = source(stream, batch_size=3)
    put(stream, *(f"RECEIPT#{n}" for n in range(1, 8)))

    assert stream.triggers.poll_stream_once(wired) == 7

    assert stream.function.batches == [
        ["RECEIPT#1", "RECEIPT#2", "RECEIPT#3"],
        ["RECEIPT#4", "RECEIPT#5", "RECEIPT#6"],
        ["RECEIPT#7"],
    ]
    record = stream.function.events[0]["Records"][0]
    assert set(record) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert (record["eventName"], record["eventVersion"], record["eventSource"]) == ("INSERT", "1.1", "aws:dynamodb")
    assert (record["awsRegion"], record["eventSourceARN"]) == (REGION, stream.arn)
    change = record["dynamodb"]
    assert set(change) == {"ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"}
    assert isinstance(change["ApproximateCreationDateTime"], int)
    assert abs(change["ApproximateCreationDateTime"] - time.time()) < 60
    assert change["Keys"] == {"PK": {"S": "USER#u1"}, "SK": {"S": "RECEIPT#1"}}
    assert change["StreamViewType"] == "KEYS_ONLY" and change["SizeBytes"] > 0
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for e in stream.function.events for r in e["Records"]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 7
    [shard] = wired.checkpoints
    assert wired.checkpoints[shard] == str(numbers[-1])


def test_the_poller_follows_the_shard_and_delivers_each_record_once(stream):
    wired = source(stream)
    put(stream, "RECEIPT#1")
    stream.triggers.poll_stream_once(wired)

    assert stream.triggers.poll_stream_once(wired) == 0
    put(stream, "RECEIPT#2")
    assert stream.triggers.poll_stream_once(wired) == 1

    assert stream.function.batches == [["RECEIPT#1"], ["RECEIPT#2"]]
    assert [entry["kind"] for entry in stream.triggers.stats.history] == ["dynamodb", "dynamodb"]


def test_an_expired_shard_iterator_is_replaced_after_the_last_record_read(stream):
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    wired = source(stream)  # with moto's streams made faithful
    put(stream, "RECEIPT#1")
    stream.triggers.poll_stream_once(wired)
    dynamodbstreams_backends[ACCOUNT_ID][REGION].shard_iterators.clear()  # as 15 minutes would

    put(stream, "RECEIPT#2")
    stream.triggers.poll_stream_once(wired)

    assert stream.function.batches == [["RECEIPT#1"], ["RECEIPT#2"]]


def test_a_write_that_changes_nothing_has_no_stream_record_as_in_aws(stream):
    wired = source(stream)
    item = {"PK": {"S": "USER#u1"}, "SK": {"S": "RECEIPT#1"}, "n": {"N": "1"}}
    key = {name: item[name] for name in ("PK", "SK")}
    stream.dynamodb.put_item(TableName="ReceiptVault-streams", Item=item)
    stream.dynamodb.put_item(TableName="ReceiptVault-streams", Item=item)
    stream.dynamodb.update_item(TableName="ReceiptVault-streams", Key=key, UpdateExpression="REMOVE absent")
    stream.dynamodb.update_item(
        TableName="ReceiptVault-streams",
        Key=key,
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )

    stream.triggers.poll_stream_once(wired)

    assert [record["eventName"] for record in stream.function.events[0]["Records"]] == ["INSERT", "MODIFY"]


# -- filtering ------------------------------------------------------------------------------------


def test_the_templates_filter_delivers_receipt_inserts_and_modifies_only(stream):
    wired = source(stream, filter_patterns=[TEMPLATE_PATTERN])
    put(stream, "RECEIPT#1", "SETTINGS", "RECEIPT#1", "DUP#abc")
    stream.dynamodb.delete_item(
        TableName="ReceiptVault-streams", Key={"PK": {"S": "USER#u1"}, "SK": {"S": "RECEIPT#1"}}
    )

    stream.triggers.poll_stream_once(wired)

    delivered = [record for event in stream.function.events for record in event["Records"]]
    assert [(record["eventName"], sort_key(record)) for record in delivered] == [
        ("INSERT", "RECEIPT#1"),
        ("MODIFY", "RECEIPT#1"),
    ]
    [shard] = wired.checkpoints  # the filtered-out REMOVE, last, is done too
    assert int(wired.checkpoints[shard]) == max(int(r["dynamodb"]["SequenceNumber"]) for r in delivered) + 2


def test_filters_are_ored_and_match_literals_prefixes_and_nested_objects():
    receipt = {"eventName": "MODIFY", "dynamodb": {"Keys": {"SK": {"S": "RECEIPT#1"}}, "SizeBytes": 12}}
    patterns = [filter_pattern(text) for text in ('{"eventName": ["INSERT"]}', TEMPLATE_PATTERN)]

    assert any(pattern_matches(pattern, receipt) for pattern in patterns)
    assert pattern_matches(filter_pattern('{"dynamodb": {"SizeBytes": [12.0]}}'), receipt)
    assert not pattern_matches(filter_pattern('{"dynamodb": {"SizeBytes": ["12"]}}'), receipt)
    assert not pattern_matches(filter_pattern('{"dynamodb": {"NewImage": {"x": [null]}}}'), receipt)
    assert not pattern_matches(filter_pattern('{"eventName": [{"prefix": "INS"}]}'), receipt)
    assert pattern_matches(filter_pattern('{"tags": ["b"]}'), {"tags": ["a", "b"]})
    assert not pattern_matches(filter_pattern('{"flag": [1]}'), {"flag": True})


@pytest.mark.parametrize(
    "pattern",
    [
        '{"eventName": [{"anything-but": ["REMOVE"]}]}',
        '{"dynamodb": {"SizeBytes": [{"numeric": [">", 0]}]}}',
        '{"dynamodb": {"NewImage": [{"exists": true}]}}',
        '{"dynamodb": {"Keys": {"SK": {"S": [{"suffix": "#1"}]}}}}',
        '{"eventName": [{"equals-ignore-case": "insert"}]}',
        '{"eventName": [{"prefix": {"equals-ignore-case": "ins"}}]}',
        '{"eventName": "INSERT"}',
        '{"eventName": []}',
        '{"eventName": [["INSERT"]]}',
        "{}",
        "not json",
    ],
)
def test_a_filter_the_local_poller_cannot_apply_is_refused_when_the_source_is_wired(stream, pattern):
    with pytest.raises(UnsupportedFilterError):
        StreamSource("StandInFunction", FUNCTION_ARN, stream.arn, filter_patterns=[pattern])


# -- failures -------------------------------------------------------------------------------------


def test_a_partial_batch_failure_resumes_from_the_lowest_failed_record_and_not_before(stream):
    put(stream, *(f"RECEIPT#{n}" for n in range(1, 6)))
    numbers = sequence_numbers(stream)
    answers = iter(
        [{"batchItemFailures": [{"itemIdentifier": numbers["RECEIPT#4"]}, {"itemIdentifier": numbers["RECEIPT#2"]}]}]
    )
    stream.function.respond = lambda records: next(answers, {"batchItemFailures": []})
    wired = source(stream, report_item_failures=True, maximum_retry_attempts=3, on_failure_queue_url=stream.dlq)

    stream.triggers.poll_stream_once(wired)

    assert stream.function.batches == [
        ["RECEIPT#1", "RECEIPT#2", "RECEIPT#3", "RECEIPT#4", "RECEIPT#5"],
        ["RECEIPT#2", "RECEIPT#3", "RECEIPT#4", "RECEIPT#5"],
    ]
    assert dead_letters(stream) == []
    assert wired.checkpoints == {next(iter(wired.checkpoints)): numbers["RECEIPT#5"]}


@pytest.mark.parametrize(
    "answer",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "1"}]},
        {"batchItemFailures": [{"itemIdentifier": "9999"}]},
        {"batchItemFailures": "all of them"},
        "not a response",
    ],
)
def test_a_partial_batch_response_lambda_cannot_use_fails_the_whole_batch(stream, answer):
    put(stream, "RECEIPT#1", "RECEIPT#2")
    answers = iter([answer])
    stream.function.respond = lambda records: next(answers, None)
    wired = source(stream, report_item_failures=True, maximum_retry_attempts=1)

    stream.triggers.poll_stream_once(wired)

    assert stream.function.batches == [["RECEIPT#1", "RECEIPT#2"], ["RECEIPT#1", "RECEIPT#2"]]


def test_without_report_batch_item_failures_the_response_is_ignored(stream):
    put(stream, "RECEIPT#1", "RECEIPT#2")
    stream.function.respond = lambda records: {"batchItemFailures": [{"itemIdentifier": "x"}]}

    stream.triggers.poll_stream_once(source(stream))

    assert stream.function.batches == [["RECEIPT#1", "RECEIPT#2"]]


def test_a_raised_error_with_bisect_isolates_the_poison_record(stream):
    put(stream, "RECEIPT#1", "RECEIPT#2", "RECEIPT#3", "RECEIPT#4")
    stream.function.respond = failing_on("RECEIPT#3")
    wired = source(
        stream,
        bisect_on_error=True,
        report_item_failures=True,
        maximum_retry_attempts=3,
        on_failure_queue_url=stream.dlq,
    )

    stream.triggers.poll_stream_once(wired)

    assert stream.function.batches == [
        ["RECEIPT#1", "RECEIPT#2", "RECEIPT#3", "RECEIPT#4"],
        ["RECEIPT#1", "RECEIPT#2"],
        ["RECEIPT#3", "RECEIPT#4"],
        *[["RECEIPT#3"]] * 4,  # splitting uses none of the 3 retries
        ["RECEIPT#4"],
    ]
    [message] = dead_letters(stream)
    poison = sequence_numbers(stream)["RECEIPT#3"]
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (poison, poison, 1)
    assert message["requestContext"]["approximateInvokeCount"] == 6  # the whole, its half, and 4 alone


def test_retries_exhausted_send_lambdas_on_failure_record_to_the_queue_and_the_stream_moves_on(stream):
    put(stream, "RECEIPT#1", "RECEIPT#2", "RECEIPT#3", "RECEIPT#4")
    numbers = sequence_numbers(stream)
    stream.function.respond = failing_on("RECEIPT#1")
    wired = source(stream, batch_size=2, maximum_retry_attempts=3, on_failure_queue_url=stream.dlq)

    stream.triggers.poll_stream_once(wired)

    assert stream.function.batches == [*[["RECEIPT#1", "RECEIPT#2"]] * 4, ["RECEIPT#3", "RECEIPT#4"]]
    [message] = dead_letters(stream)
    [shard] = wired.checkpoints
    assert message == {
        "requestContext": {
            "requestId": message["requestContext"]["requestId"],
            "functionArn": FUNCTION_ARN,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 4,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": message["timestamp"],
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": numbers["RECEIPT#1"],
            "endSequenceNumber": numbers["RECEIPT#2"],
            "approximateArrivalOfFirstRecord": message["DDBStreamBatchInfo"]["approximateArrivalOfFirstRecord"],
            "approximateArrivalOfLastRecord": message["DDBStreamBatchInfo"]["approximateArrivalOfLastRecord"],
            "batchSize": 2,
            "streamArn": stream.arn,
        },
    }
    assert re.fullmatch(r"[0-9a-f-]{36}", message["requestContext"]["requestId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", message["timestamp"])
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", message["DDBStreamBatchInfo"]["approximateArrivalOfFirstRecord"]
    )
    assert wired.checkpoints[shard] == numbers["RECEIPT#4"]
    assert stream.triggers.stats.failures == 4 and stream.triggers.stats.invocations == 5


def test_unbounded_retries_hold_the_shard_up_one_retry_per_poll(stream):
    put(stream, "RECEIPT#1", "RECEIPT#2")
    stream.function.respond = failing_on("RECEIPT#1")
    wired = source(stream, batch_size=1)  # MaximumRetryAttempts -1, AWS's default

    for _ in range(3):
        stream.triggers.poll_stream_once(wired)

    assert stream.function.batches == [["RECEIPT#1"]] * 3
    assert wired.checkpoints == {}


def test_records_older_than_the_maximum_age_are_discarded_unseen(stream, monkeypatch):
    put(stream, "RECEIPT#1", "RECEIPT#2")
    wired = source(stream, maximum_record_age_seconds=60, on_failure_queue_url=stream.dlq)
    later = time.time() + 120
    monkeypatch.setattr(triggers_module, "epoch_seconds", lambda: later)

    stream.triggers.poll_stream_once(wired)

    assert stream.function.batches == []
    [message] = dead_letters(stream)
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert message["DDBStreamBatchInfo"]["batchSize"] == 2


# -- wiring from template.yaml -------------------------------------------------------------------


@pytest.fixture
def unstarted_stack(aws) -> tuple[LocalStack, StandIn]:
    """The stack's own registration and wiring over the in-process emulation, without its servers."""
    stack = LocalStack(StackConfig(log=lambda line: None))
    resources = LocalResources(stack.template, stack.config.parameters, REGION, endpoint_url=None)
    resources.provision_all()
    function = StandIn()
    triggers = Triggers(resources.client("sqs"), function, REGION, ACCOUNT_ID)
    standins = SimpleNamespace(url="http://standins.invalid")
    stack._running = _Running(moto=None, http=None, resources=resources, standins=standins, triggers=triggers)
    stack._register_functions()
    return stack, function


def test_the_stack_wires_the_duplicate_checkers_stream_source_as_the_template_declares(unstarted_stack):
    stack, function = unstarted_stack
    stack._wire_event_sources()

    [wired] = stack.triggers.streams
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName="ReceiptVault-dev")["Table"]
    dlq = boto3.client("sqs", region_name=REGION).get_queue_url(QueueName="receiptvault-duplicate-check-dlq-dev")
    assert wired == StreamSource(
        "DuplicateCheckerFunction",
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:receiptvault-duplicate-checker-dev",
        table["LatestStreamArn"],
        batch_size=25,
        starting_position="TRIM_HORIZON",
        filter_patterns=[TEMPLATE_PATTERN],
        report_item_failures=True,
        bisect_on_error=True,
        maximum_retry_attempts=3,
        maximum_record_age_seconds=3600,
        on_failure_queue_url=dlq["QueueUrl"],
    )
    # And it runs: a receipt write reaches the function, a settings write does not.
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for key in ("SETTINGS", "RECEIPT#r1"):
        dynamodb.put_item(TableName="ReceiptVault-dev", Item={"PK": {"S": "USER#u1"}, "SK": {"S": key}})
    stack.triggers.poll_stream_once(wired)
    assert function.batches == [["RECEIPT#r1"]]


def with_properties(stack: LocalStack, **change: Any) -> None:
    """The duplicate checker's stream event with some properties changed (the template is left alone)."""
    events = {"ReceiptChanges": {"Type": "DynamoDB", "Properties": {**TEMPLATE_EVENT["Properties"], **change}}}
    stack.functions["DuplicateCheckerFunction"].events = events


REFUSALS = [
    ({"TumblingWindowInSeconds": 60}, "TumblingWindowInSeconds not implemented"),
    ({"ParallelizationFactor": 2}, "ParallelizationFactor 1"),
    ({"StartingPosition": "AT_TIMESTAMP"}, "StartingPosition AT_TIMESTAMP"),
    ({"FunctionResponseTypes": ["Unknown"]}, "FunctionResponseTypes"),
    ({"DestinationConfig": {"OnFailure": {"Type": "SNS", "Destination": {"Ref": "OperationsAlertsTopic"}}}}, "SQS"),
    ({"Stream": {"Fn::GetAtt": ["ExportQueue", "Arn"]}}, "not a stream ARN"),
    ({"FilterCriteria": {"Filters": [{"Pattern": '{"eventName": [{"anything-but": ["REMOVE"]}]}'}]}}, "anything-but"),
]


def test_a_stream_property_the_local_poller_does_not_implement_is_refused(unstarted_stack):
    stack, _ = unstarted_stack  # one stack for all the cases: it takes a second to provision

    for change, refusal in REFUSALS:
        with_properties(stack, **change)
        with pytest.raises(ValueError, match=f"DuplicateCheckerFunction.Events.ReceiptChanges: .*{refusal}"):
            stack._wire_event_sources()
    assert stack.triggers.streams == []


def test_a_disabled_stream_source_and_harmless_properties_are_accepted(unstarted_stack):
    stack, _ = unstarted_stack
    with_properties(stack, MaximumBatchingWindowInSeconds=5, MetricsConfig={"Metrics": ["EventCount"]})
    stack._wire_event_sources()
    assert len(stack.triggers.streams) == 1

    with_properties(stack, Enabled=False)
    stack._wire_event_sources()
    assert len(stack.triggers.streams) == 1  # not a second one
