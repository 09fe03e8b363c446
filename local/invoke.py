"""`make invoke FN=<LogicalId> EVENT=events/...json`: one function, one captured event.

Like `sam local invoke`, without Docker. If a local stack is running, the function runs inside
it, against its emulated backend; otherwise a private stack starts for the call and stops after.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from local.stack import LocalStack, StackConfig
from receipt_vault.shapes import JsonObject


def invoke_running(api_url: str, function: str, event: bytes) -> JsonObject | None:
    request = urllib.request.Request(  # noqa: S310 (the local stack's http URL)
        f"{api_url}/_local/invoke/{function}",
        data=event,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    outcome: JsonObject
    try:
        with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 (local URL)
            outcome = json.load(response)
    except urllib.error.HTTPError as error:
        outcome = json.load(error)
    except OSError:
        return None
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__)
    parser.add_argument("function", help="the function's logical id in template.yaml")
    parser.add_argument("event", type=Path, help="a JSON event file, e.g. events/receipt_crud/get_receipt.json")
    parser.add_argument("--api", default="http://127.0.0.1:3000", help="a running local stack")
    args = parser.parse_args(argv)
    event = args.event.read_bytes()
    json.loads(event)  # fail early on a malformed event

    outcome = invoke_running(args.api, args.function, event)
    if outcome is None:
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        with LocalStack(StackConfig(api_port=0, aws_port=0, run_schedules=False)) as stack:
            if args.function not in stack.functions:
                print(
                    f"No function {args.function}; the template has: {', '.join(sorted(stack.functions))}",
                    file=sys.stderr,
                )
                return 2
            outcome = {"result": stack.invoke(args.function, json.loads(event))}
    if "result" not in outcome:
        print(json.dumps(outcome, indent=2), file=sys.stderr)
        return 1
    print(json.dumps(outcome["result"], indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
