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
import re
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
        api_port=_free_port(),
        aws_port=_free_port(),
        parameters=quiet,
        run_schedules=False,
        stage_throttling=False,  # the fuzzer's burst would only meet 429s
        log=lambda _: None,
    )
    # The functions' environments print their logs and metrics through this process: keep them
    # out of the report, which schemathesis writes to the real stdout.
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
        run = subprocess.run(command, check=False, capture_output=True, text=True)  # noqa: S603 - our own tool
    print(plain_report(run.stdout, run.returncode), flush=True)
    sys.stderr.write(run.stderr)
    return run.returncode


_CLOSING_RULE = re.compile(r"^=+ .* in [\d.]+s =+$")
_TEST_CASES = re.compile(r"^\s*(\d+) generated, (.*)$")


def plain_report(output: str, returncode: int) -> str:
    """schemathesis's report, with its pytest-style closing line (`=== 1 warning in 6.30s ===`,
    which reads as a test run that ran nothing) replaced by a plain line of what it did."""
    lines = output.rstrip("\n").splitlines()
    while lines and (not lines[-1].strip() or _CLOSING_RULE.match(lines[-1].strip())):
        lines.pop()
    generated, failures = "?", "?"
    for line in lines:
        found = _TEST_CASES.match(line)
        if found:
            generated = found.group(1)
            failed = re.search(r"(\d+) failed", found.group(2))
            failures = failed.group(1) if failed else "0"
    status = "" if returncode == 0 else f" (exit code {returncode})"
    return "\n".join([*lines, "", f"API fuzz run: {generated} requests, {failures} failures{status}"])


if __name__ == "__main__":
    sys.exit(main())
