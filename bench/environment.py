"""The benchmarks' AWS environment, defined once for every script: fake credentials, one region,
Powertools quiet and without X-Ray, and nothing from the shell that could reach a real account
(its AWS_ENDPOINT_URL* variables, its AWS_PROFILE).

A script that runs AWS code in its own process calls `use_bench_environment()` before it imports
boto3 or moto; one that starts children gives them `child_environment()`. The scripts run as
`python bench/<script>.py`, so bench/ is first on their path and this imports as `environment`.
"""

from __future__ import annotations

import os

REGION = "eu-west-1"
# What boto3 needs to sign a request to the emulation, and the region Lambda declares twice.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}
POWERTOOLS = {
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
}


def bench_variables(**extra: str) -> dict[str, str]:
    """The variables every benchmark runs its functions' code with, and `extra` (a function's own)."""
    return {**CREDENTIALS, "REGION": REGION, **POWERTOOLS, **extra}


def use_bench_environment(**extra: str) -> None:
    """This process's environment as a benchmark's: call it before importing boto3 or moto."""
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_PROFILE"]:
        del os.environ[name]
    os.environ.update(bench_variables(**extra))


def child_environment(**extra: str) -> dict[str, str]:
    """A child process's: this process's variables without any AWS_* one, the bench's, and `extra`."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return {**kept, **bench_variables(**extra)}
