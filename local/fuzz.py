"""API fuzzing: schemathesis drives the local stack through api/openapi.yaml (`make fuzz`).

A bounded, reproducible run (fixed seed, no example database, a few examples per operation) with
a signed-in user's token, through every phase: the documented examples, the coverage of each
schema's edges (undeclared methods included), fuzzing with valid and invalid data, and stateful
scenarios along the contract's links. It runs every check: no 5xx; status code, content type,
headers and body as documented, errors included; valid data accepted and invalid data refused;
the token required; a deleted resource gone; no undeclared method answered but with 405. The
report says how many of the contract's links the stateful phase followed: it explores them at
random, so a run may leave some unfollowed; tests/integration/test_contract_links.py follows
every one, every run.
Budgets, the stateful phase and the hooks are in local/schemathesis.toml. The seed fixes what is
generated; the stateful phase's count of scenarios still varies a little from run to run, as
hypothesis replays its scenarios against a store that has changed meanwhile.

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
CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = "all"
PHASES = "examples,coverage,fuzzing,stateful"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--max-examples", type=int, help="generated cases per operation (local/schemathesis.toml: 12, 40 scenarios)"
    )
    parser.add_argument("--phases", default=PHASES, help=f"a part of the run (default: {PHASES})")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--report", type=Path, help="write a JUnit report here")
    args = parser.parse_args(argv)
    if not SCHEMATHESIS.exists():
        print(f"{SCHEMATHESIS} is missing: run `make fuzz`, which installs it", file=sys.stderr)
        return 2
    # The day's export quota as high as the template allows: the fuzzing phase would spend the
    # default 10 before the stateful phase follows an export to its status (429 is documented).
    quiet = {**LOCAL_PARAMETERS, "LogLevel": "ERROR", "ExportsPerUserPerDay": "1000"}
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
            "--config-file",
            str(CONFIG),
            "run",
            str(OPENAPI_PATH),
            "--url",
            stack.api_url,
            "--header",
            f"Authorization: Bearer {stack.access_token()}",
            "--checks",
            CHECKS,
            "--seed",
            str(args.seed),
            # The same requests on every machine: the seed decides them, no example database
            # remembers a previous run's.
            "--generation-database",
            "none",
            "--phases",
            args.phases,
            "--workers",
            "1",
            "--no-shrink",
            "--suppress-health-check",
            "all",
        ]
        if args.max_examples:
            command += ["--max-examples", str(args.max_examples)]
        if args.report:
            command += ["--report", "junit", "--report-junit-path", str(args.report)]
        run = subprocess.run(command, check=False, capture_output=True, text=True, cwd=PROJECT_ROOT)  # noqa: S603 - our own tool
    print(plain_report(run.stdout, run.returncode), flush=True)
    sys.stderr.write(run.stderr)
    return run.returncode


_CLOSING_RULE = re.compile(r"^=+ .* in [\d.]+s =+$")
_TEST_CASES = re.compile(r"^\s*(\d+) generated, (.*)$")
_FAILURES = re.compile(r"(\d+) unique failures?|(\d+) failed")
_LINKS = re.compile(r"^\s*API Links:\s+(\d+) covered / (\d+) selected")


def links_followed(output: str) -> tuple[int, int] | None:
    """(followed, declared) links of the stateful phase, None when it did not run."""
    found = next((match for line in output.splitlines() if (match := _LINKS.match(line))), None)
    return (int(found.group(1)), int(found.group(2))) if found else None


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
            failed = _FAILURES.search(found.group(2))
            failures = (failed.group(1) or failed.group(2)) if failed else "0"
    status = "" if returncode == 0 else f" (exit code {returncode})"
    links = links_followed(output)
    followed = f", {links[0]} of {links[1]} links followed" if links else ""
    return "\n".join([*lines, "", f"API fuzz run: {generated} requests, {failures} failures{followed}{status}"])


if __name__ == "__main__":
    sys.exit(main())
