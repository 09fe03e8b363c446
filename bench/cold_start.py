"""Cold start: each handler's import and init, in fresh processes, against a boto3 baseline.

The baseline is what any Python function pays anyway: `import boto3` plus one client. Each
handler is imported the way Lambda imports it: its module (`<function>.app`, from the template's
Handler) by a plain import, with its code directory and the common layer at the head of the
path (the child's PYTHONPATH, as Lambda's are /var/task and /opt/python), the environment the
template declares, and the variables the Lambda runtime sets (some libraries, the X-Ray SDK
among them, behave differently inside Lambda). Both are timed inside the child process, so
interpreter start-up is not counted. Each round times the baseline, then every handler, then the
baseline again; a handler's ratio in that round is its time over the mean of the two baselines
around it, and the figure is the median of the rounds' ratios. Pairing samples that close in
time cancels the drift of a noisy virtual machine.

Usage: python bench/cold_start.py [--runs N] [--json PATH]. Exits 1 if a handler exceeds 1.5x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from environment import CREDENTIALS, REGION

from local.cfn_template import load_template, resources_of_type
from local.intrinsics import Resolver

ROOT = Path(__file__).resolve().parent.parent

LIMIT = 1.5
LAYER_DIR = ROOT / "src" / "layers" / "common"

BASELINE_CODE = """
import time
started = time.perf_counter()
import boto3
boto3.client("dynamodb")
print(time.perf_counter() - started)
"""

HANDLER_CODE = """
import time
started = time.perf_counter()
import {module} as handler
assert callable(handler.{function})
print(time.perf_counter() - started)
"""


def lambda_environment(function_name: str, declared: dict[str, str]) -> dict[str, str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        **CREDENTIALS,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": "/var/task",
    }
    return {**environment, **declared, "REGION": REGION}


def time_once(code: str, environment: dict[str, str]) -> float:
    output = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    ).stdout
    return float(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    template = load_template()
    global_environment = template["Globals"]["Function"]["Environment"]["Variables"]
    # Deployed values: parameter defaults, and a placeholder name for every resource.
    resolver = Resolver(
        template,
        {},
        REGION,
        lambda name: f"{name}-bench",
        lambda name, attribute: f"arn:aws:bench:eu-west-1:123456789012:{name}",
    )
    functions = {}
    for name, resource in sorted(resources_of_type(template, "AWS::Serverless::Function").items()):
        properties = resource["Properties"]
        variables = {**global_environment, **properties.get("Environment", {}).get("Variables", {})}
        declared = {key: str(value) for key, value in resolver.resolve(variables).items()}
        module, function = properties["Handler"].rsplit(".", 1)
        code = HANDLER_CODE.format(module=module, function=function)
        environment = lambda_environment(name, declared)
        environment["PYTHONPATH"] = os.pathsep.join([str(ROOT / properties["CodeUri"]), str(LAYER_DIR)])
        functions[name] = (code, environment)

    baseline_environment = lambda_environment("baseline", {})
    samples: dict[str, list[float]] = {"baseline": [], **{name: [] for name in functions}}
    ratios: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(args.runs):
        before = time_once(BASELINE_CODE, baseline_environment)
        round_samples = {name: time_once(code, environment) for name, (code, environment) in functions.items()}
        after = time_once(BASELINE_CODE, baseline_environment)
        samples["baseline"] += [before, after]
        for name, seconds in round_samples.items():
            samples[name].append(seconds)
            ratios[name].append(seconds / ((before + after) / 2))

    baseline = statistics.median(samples["baseline"])
    rows = []
    print(
        f"Cold start (median over {args.runs} rounds of fresh processes), Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"baseline: import boto3 + one client = {baseline * 1000:.0f} ms\n")
    print("| function | import + init (ms) | ratio to baseline | within 1.5x |")
    print("|---|---|---|---|")
    for name in functions:
        median = statistics.median(samples[name])
        ratio = statistics.median(ratios[name])
        rows.append({"function": name, "ms": round(median * 1000), "ratio": round(ratio, 2)})
        print(f"| {name} | {median * 1000:.0f} | {ratio:.2f} | {'yes' if ratio <= LIMIT else 'NO'} |")
    if args.json:
        args.json.write_text(json.dumps({"baseline_ms": round(baseline * 1000), "functions": rows}, indent=2))
    return 0 if all(row["ratio"] <= LIMIT for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
