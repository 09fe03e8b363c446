"""Tracing as it runs in Lambda: the layer's Tracer sends the handler's segment and a subsegment
per AWS call to the X-Ray daemon, and costs no asyncio import on the way.

The suite disables tracing (POWERTOOLS_TRACE_DISABLED), and the X-Ray SDK patches botocore for
the whole process, so this runs a child process with the variables Lambda sets, a UDP socket as
the daemon, and a stubbed DynamoDB client: what would break it is a library upgrade (the X-Ray
SDK, wrapt, Powertools), which the layer's pins decide.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"

CHILD = """
from botocore.stub import Stubber
import boto3
from receipt_vault.observability import setup_observability

tracer = setup_observability().tracer
client = boto3.client("dynamodb")
stubber = Stubber(client)
stubber.add_response("get_item", {})
stubber.activate()


@tracer.capture_lambda_handler
def handler(event, context):
    client.get_item(TableName="receipts", Key={"PK": {"S": "USER#a"}, "SK": {"S": "RECEIPT#b"}})
    return {"statusCode": 200}


class Context:
    function_name = "ReceiptCrudFunction"
    aws_request_id = "request"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ReceiptCrudFunction"
    function_version = "1"


handler({}, Context())
import sys
print("asyncio" in sys.modules)
"""


def _run_traced_invocation() -> tuple[str, list[dict]]:
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(10)
    environment = {key: value for key, value in os.environ.items() if key != "POWERTOOLS_TRACE_DISABLED"}
    environment.update(
        AWS_LAMBDA_FUNCTION_NAME="ReceiptCrudFunction",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        LAMBDA_TASK_ROOT="/var/task",
        POWERTOOLS_SERVICE_NAME="receipt-vault",
        _X_AMZN_TRACE_ID=f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1",
        AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{daemon.getsockname()[1]}",
    )
    try:
        child = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
            [sys.executable, "-c", CHILD], env=environment, capture_output=True, text=True, timeout=60
        )
        assert child.returncode == 0, child.stderr
        documents = []
        for _ in range(2):  # the subsegment, then the handler's segment it belongs to
            header, body = daemon.recv(65536).decode().split("\n", 1)
            assert json.loads(header) == {"format": "json", "version": 1}
            documents.append(json.loads(body))
        return child.stdout.strip(), documents
    finally:
        daemon.close()


def test_an_invocation_sends_its_segment_and_a_subsegment_per_aws_call():
    asyncio_imported, documents = _run_traced_invocation()
    by_name = {document["name"]: document for document in documents}

    handler, call = by_name["## handler"], by_name["dynamodb"]
    assert handler["trace_id"] == call["trace_id"] == TRACE_ROOT
    assert handler["parent_id"] == "53995c3f42cd8ad8"  # under Lambda's own segment
    assert handler["annotations"] == {"ColdStart": True, "Service": "receipt-vault"}
    assert call["parent_id"] == handler["id"]
    assert call["aws"]["operation"] == "GetItem"
    assert call["aws"]["table_name"] == "receipts"
    # wrapt 2 imports asyncio, which nothing in a function uses: the layer holds wrapt at 1.x.
    assert asyncio_imported == "False"
