"""Partial batch responses: a record that fails comes back by its identifier, alone; the rest of
the batch is done, whatever failed before or after it."""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger

from receipt_vault.batches import partial_batch_response, sqs_message_id, stream_sequence_number


def _sqs(message_id: str, body: object) -> dict:
    return {"messageId": message_id, "body": json.dumps(body), "attributes": {"ApproximateReceiveCount": "1"}}


def test_only_the_failed_messages_come_back_and_the_others_are_done(capsys):
    done = []

    def process(record: dict) -> None:
        body = json.loads(record["body"])
        if body.get("fail"):
            raise RuntimeError("the table is throttling")
        done.append(body["n"])

    records = [_sqs("m1", {"n": 1}), _sqs("m2", {"fail": True}), _sqs("m3", {"n": 3}), _sqs("m4", {"fail": True})]
    response = partial_batch_response(records, process, sqs_message_id, Logger(service="test"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m4"}]}
    assert done == [1, 3]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(entry["item"], entry["error"]) for entry in logged] == [("m2", "RuntimeError"), ("m4", "RuntimeError")]


def test_a_stream_record_is_named_by_its_sequence_number():
    records = [{"dynamodb": {"SequenceNumber": "100", "Keys": {}}}, {"dynamodb": {"SequenceNumber": "200", "Keys": {}}}]

    def process(record: dict) -> None:
        if record["dynamodb"]["SequenceNumber"] == "100":
            raise KeyError("PK")

    response = partial_batch_response(records, process, stream_sequence_number, Logger(service="test"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "100"}]}


def test_an_empty_batch_has_no_failures():
    assert partial_batch_response([], lambda record: None, sqs_message_id, Logger(service="test")) == {
        "batchItemFailures": []
    }
