"""A probe of the execution environment: who runs the invocation, what it sees, how it fails.

`gate`: a TCP port the test listens on. The invocation connects, says its pid, and waits for
one byte before it returns: so the test knows it is running, and decides when it ends.
"""

import decimal
import importlib.util
import os
import socket
import threading

invocations = 0  # module state: lives as long as the environment


def lambda_handler(event, context):
    global invocations
    invocations += 1
    action = event.get("action")
    if action == "crash":
        os._exit(3)
    if action == "hang":
        threading.Event().wait()  # past any timeout
    if action == "decimal":
        return {"amount": decimal.Decimal("1.10")}
    if action == "aws":  # one AWS call, with the function's role: its outcome
        import boto3
        import botocore.exceptions

        try:
            getattr(boto3.client(event["service"]), event["operation"])(**event["params"])
        except botocore.exceptions.ClientError as error:
            return {
                "error": error.response["Error"]["Code"],
                "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
                "message": error.response["Error"]["Message"],
            }
        return {"error": None}
    if event.get("gate"):
        with socket.create_connection(("127.0.0.1", event["gate"]), timeout=30) as gate:
            gate.sendall(f"{os.getpid()}\n".encode())
            gate.recv(1)
    return {
        "pid": os.getpid(),
        "invocations": invocations,
        "developerVariable": os.environ.get("PROBE_DEVELOPER_VARIABLE"),
        "ownVariable": os.environ.get("TWIN_VARIABLE"),
        "timezone": os.environ.get("TZ"),
        "projectImportable": importlib.util.find_spec("local") is not None,
        "layerImportable": importlib.util.find_spec("receipt_vault") is not None,
        "remainingMs": context.get_remaining_time_in_millis(),
    }
