"""API fuzzing: schemathesis drives the local stack through api/openapi.yaml (`make fuzz`).

A bounded, reproducible run (fixed seed, a few examples per operation, a few hundred requests
in all) with a signed-in user's token. It fails on any 5xx and on any response, errors included,
that the document does not describe: status code, content type and body schema.

schemathesis lives in a virtualenv of its own (.venv-fuzz), so its pins never touch the project's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import socket
import subprocess
import sys
from pathlib import Path

from local.cfn_template import OPENAPI_PATH, PROJECT_ROOT
from local.stack import LOCAL_PARAMETERS, LocalStack, StackConfig

SCHEMATHESIS = PROJECT_ROOT / ".venv-fuzz" / "bin" / "schemathesis"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=12, help="generated cases per operation")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--report", type=Path, help="write a JUnit report here")
    args = parser.parse_args(argv)
    if not SCHEMATHESIS.exists():
        print(f"{SCHEMATHESIS} is missing: run `make fuzz`, which installs it", file=sys.stderr)
        return 2
    quiet = {**LOCAL_PARAMETERS, "LogLevel": "ERROR"}
    config = StackConfig(
        api_port=_free_port(), aws_port=_free_port(), parameters=quiet, run_schedules=False, log=lambda _: None
    )
    # The functions run in this process and print their metrics: keep them out of the report,
    # which schemathesis writes to the real stdout.
    with LocalStack(config) as stack, contextlib.redirect_stdout(io.StringIO()):
        command = [
            str(SCHEMATHESIS),
            "run",
            str(OPENAPI_PATH),
            "--url",
            stack.api_url,
            "--header",
            f"Authorization: Bearer {stack.access_token()}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(args.max_examples),
            "--seed",
            str(args.seed),
            # The same requests on every machine: no randomness, no example database.
            "--generation-deterministic",
            "--phases",
            "examples,fuzzing",
            "--workers",
            "1",
            "--no-shrink",
            "--suppress-health-check",
            "all",
        ]
        if args.report:
            command += ["--report", "junit", "--report-junit-path", str(args.report)]
        return subprocess.run(command, check=False).returncode  # noqa: S603 - our own tool and arguments


if __name__ == "__main__":
    sys.exit(main())
