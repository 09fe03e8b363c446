"""Cold start: each handler's import and init, the way Lambda runs it, against a bare boto3 function.

Lambda runs a function from read-only directories: its code in /var/task, its layers in /opt,
and boto3 in the runtime's own, compiled, /var/runtime. So this stages the same trees, the way
`sam build` fills them (dependencies unpacked by pip without bytecode, source without
`__pycache__`), in two variants:
- `source`: what `sam build` alone ships; every cold start compiles what it imports.
- `bytecode`: the same after `make build`'s bytecode step (local/bytecode.py). This is what is
  deployed, and what the limit applies to.
The trees are made read-only and children run with PYTHONDONTWRITEBYTECODE=1 and without the
venv's site-packages (`python -S`); a `source` tree that gained a `.pyc` fails the run. Installs,
bytecode and children are Lambda's Python 3.12 where it is on PATH (`make bench` adds pyenv's),
else this interpreter; the output names the version.

The baseline is what any Python function pays anyway: `import boto3` plus one client, from a
compiled boto3 on an otherwise empty path. Each handler is imported by its module
(`<function>.app`, from the template's Handler), with the environment the template declares and
the variables the Lambda runtime sets (the X-Ray SDK among others behaves differently inside
Lambda). Times are taken inside the child, so interpreter start-up is not counted. Each round
times the baseline, then every handler, then the baseline again; a handler's ratio in that round
is its time over the mean of the two baselines around it, and the figure is the median of the
rounds' ratios: pairing samples that close in time cancels the drift of a noisy machine.

Then one more import per handler under `-X importtime` gives the breakdown by top-level package
(self time summed), so a regression names its cause. Floors are timed alongside, paired the same
way: the baseline plus a model and Powertools' Logger, Metrics and Tracer, from the common
layer, without any function's code: what the libraries alone cost, together and each.

Usage: python bench/cold_start.py [--runs N] [--json PATH]. Exits 1 if a deployed handler
exceeds 1.30x, or if a read-only tree was written to.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from environment import CREDENTIALS, REGION

from local.cfn_template import load_template, resources_of_type
from local.intrinsics import Resolver

ROOT = Path(__file__).resolve().parent.parent
STAGE = Path(__file__).resolve().parent / ".lambda"  # git-ignored; pip downloads are cached by hash
LIMIT = 1.30
VARIANTS = ("bytecode", "source")
BREAKDOWN_TOP = 6
# Parameters without which a function is not deployed at all (its Condition): set, so it is measured.
OPTIONAL_FEATURES_ON = {"InboundMailDomain": "receipts.example.com"}
# Lambda's interpreter where this machine has it (`make bench` puts pyenv's 3.12 on PATH): it
# installs the dependencies, compiles the bytecode and runs every timed child. Otherwise this one,
# which the output names: versions differ in speed, baseline and functions alike.
RUNTIME_PYTHON = shutil.which("python3.12") or sys.executable

_TIMED = """
import time
started = time.perf_counter()
{pause}import boto3
boto3.client("dynamodb")
{libraries}
{resume}print(time.perf_counter() - started)
"""
BASELINE_CODE = _TIMED.format(pause="", libraries="", resume="")
# The floors' init runs as each function's does (receipt_vault.init_phase): the cyclic garbage
# collector paused from its start, and what init made frozen at its end.
_PAUSE = "import gc\ngc.disable()\n"
_RESUME = "gc.freeze()\ngc.enable()\n"

# What every API function needs, used as the project uses it, and none of its functions' code:
# boto3 and its client, a model (receipt_vault.validation, from the common layer), and
# Powertools' Logger, Metrics and Tracer (botocore patched, as receipt_vault.observability sets
# it up), in an init without the collector. What no cut in a function's own code can go below.
# Each part is also timed alone on top of the baseline, so the output shows what each one takes
# of the limit's margin; and the baseline itself without the collector, so it shows what the
# pause alone saves (the baseline's ratios stay against the baseline as any function runs it).
_MODEL = """
from receipt_vault.validation import Model, Text, field
class Body(Model):
    name: str = field(Text())
"""
_POWERTOOLS = """
from aws_lambda_powertools import Logger, Metrics, Tracer
Logger(), Metrics(), Tracer(patch_modules=("botocore",))
"""
FLOORS = {
    "floor": ("the baseline + a model + Powertools Logger, Metrics, Tracer, collector paused", _MODEL + _POWERTOOLS),
    "floor/model": ("the baseline + a model (receipt_vault.validation), collector paused", _MODEL),
    "floor/powertools": ("the baseline + Powertools Logger, Metrics, Tracer, collector paused", _POWERTOOLS),
    "floor/collector": ("the baseline alone, collector paused (receipt_vault.init_phase)", ""),
}

HANDLER_CODE = """
import time
started = time.perf_counter()
import {module} as handler
assert callable(handler.{function})
print(time.perf_counter() - started)
"""


def lambda_environment(function_name: str, declared: dict[str, str], path: list[Path]) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        **CREDENTIALS,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": "/var/task",
        **declared,
        "REGION": REGION,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join(str(entry) for entry in path),
    }


def pip_target(requirements: list[Path], name: str) -> Path:
    """The requirements installed as `sam build` installs them (no bytecode), cached by content."""
    contents = [python_version().encode(), *(path.read_bytes() for path in requirements)]
    digest = hashlib.sha256(b"".join(contents)).hexdigest()[:12]
    target = STAGE / "pip" / f"{name}-{digest}"
    if not target.exists():
        partial = target.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        arguments = [arg for path in requirements for arg in ("-r", str(path))]
        subprocess.run(
            [RUNTIME_PYTHON, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(partial), *arguments],
            check=True,
            stderr=subprocess.DEVNULL,  # the offline mirror's warnings; a failure still raises
        )
        partial.rename(target)
    return target


@functools.cache
def python_version() -> str:
    """The timing interpreter's version, such as 3.12.1."""
    return subprocess.run(
        [RUNTIME_PYTHON, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@functools.cache
def stdlib_module_names() -> frozenset[str]:
    """The timing interpreter's standard library, by top-level name."""
    names = subprocess.run(
        [RUNTIME_PYTHON, "-c", "import sys; print(*sys.stdlib_module_names)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return frozenset(names)


def compile_tree(tree: Path) -> None:
    """`make build`'s bytecode step (local/bytecode.py), by the timing interpreter: its own `.pyc` names."""
    subprocess.run([RUNTIME_PYTHON, "-m", "local.bytecode", str(tree)], cwd=ROOT, check=True)


def copy_source(source: Path, destination: Path) -> None:
    shutil.copytree(source, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def make_read_only(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            os.chmod(os.path.join(directory, name), 0o444)
        os.chmod(directory, 0o555)  # noqa: S103  # read and search only, as /var/task: nothing writable


def remove_tree(root: Path) -> None:
    for directory, _, _ in os.walk(root):
        os.chmod(directory, 0o755)  # noqa: S103  # writable again for its owner, to be removed
    shutil.rmtree(root, ignore_errors=True)


def bytecode_files(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.pyc"))


class Staged:
    """The trees of one variant: the runtime's boto3, each layer's /opt, each function's /var/task."""

    def __init__(self, variant: str, template: dict, functions: dict[str, dict]) -> None:
        self.root = STAGE / variant
        remove_tree(self.root)
        layer_pin = ROOT / "src" / "layers" / "common" / "requirements.txt"
        boto3_pin = [line for line in layer_pin.read_text().splitlines() if line.startswith("boto3==")]
        runtime_requirements = STAGE / "runtime-requirements.txt"
        STAGE.mkdir(exist_ok=True)
        runtime_requirements.write_text("\n".join(boto3_pin) + "\n")
        self.runtime = self.root / "var-runtime"
        shutil.copytree(pip_target([runtime_requirements], "runtime"), self.runtime)
        compile_tree(self.runtime)  # the runtime's boto3 comes compiled, in either variant

        self.layers: dict[str, Path] = {}
        for name, resource in resources_of_type(template, "AWS::Serverless::LayerVersion").items():
            source = ROOT / resource["Properties"]["ContentUri"]
            layer = self.root / "opt" / name
            shutil.copytree(pip_target([source / "requirements.txt"], name), layer)
            copy_source(source, layer)
            self.layers[name] = layer

        self.tasks: dict[str, Path] = {}
        for name, properties in functions.items():
            source = ROOT / properties["CodeUri"]
            task = self.root / "task" / name
            if (source / "requirements.txt").exists():
                shutil.copytree(pip_target([source / "requirements.txt"], name), task)
            copy_source(source, task)
            self.tasks[name] = task

        if variant == "bytecode":
            compile_tree(self.root / "opt")
            compile_tree(self.root / "task")
        self.bytecode_before = bytecode_files(self.root)
        make_read_only(self.root)

    def path_of(self, layers: list[str], function: str) -> list[Path]:
        return [self.tasks[function], *(self.layers[name] for name in layers), self.runtime]

    def unchanged(self) -> bool:
        return bytecode_files(self.root) == self.bytecode_before


def time_once(code: str, environment: dict[str, str]) -> float:
    result = subprocess.run([RUNTIME_PYTHON, "-S", "-c", code], env=environment, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{environment['AWS_LAMBDA_FUNCTION_NAME']} did not import:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


IMPORT_TIME = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \|(\s*)(\S+)$")


def breakdown(code: str, environment: dict[str, str]) -> list[tuple[str, float]]:
    """Self import time by top-level package, largest first, in milliseconds."""
    stderr = subprocess.run(
        [RUNTIME_PYTHON, "-S", "-X", "importtime", "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        match = IMPORT_TIME.match(line)
        if match:
            top = match.group(3).split(".")[0]
            totals["(stdlib)" if top in stdlib_module_names() else top] += int(match.group(1)) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    template = load_template()
    global_function = template["Globals"]["Function"]
    global_environment = global_function["Environment"]["Variables"]
    resolver = Resolver(  # deployed values: parameter defaults, and a placeholder name for every resource
        template,
        OPTIONAL_FEATURES_ON,
        REGION,
        lambda name: f"{name}-bench",
        lambda name, attribute: f"arn:aws:bench:eu-west-1:123456789012:{name}",
    )
    functions = {
        name: resource["Properties"]
        for name, resource in sorted(resources_of_type(template, "AWS::Serverless::Function").items())
    }
    staged = {variant: Staged(variant, template, functions) for variant in VARIANTS}

    runs: dict[str, tuple[str, dict[str, str]]] = {}
    for name, properties in functions.items():
        variables = {**global_environment, **properties.get("Environment", {}).get("Variables", {})}
        declared = {key: str(value) for key, value in resolver.resolve(variables).items()}
        module, function = properties["Handler"].rsplit(".", 1)
        layers = [layer["Ref"] for layer in [*global_function["Layers"], *properties.get("Layers", [])]]
        for variant in VARIANTS:
            environment = lambda_environment(name, declared, staged[variant].path_of(layers, name))
            runs[f"{name}/{variant}"] = (HANDLER_CODE.format(module=module, function=function), environment)
    baseline_environment = lambda_environment("baseline", {}, [staged["bytecode"].runtime])
    floor_environment = lambda_environment(
        "floor",
        {key: str(value) for key, value in resolver.resolve(global_environment).items()},
        [staged["bytecode"].layers["CommonLayer"], staged["bytecode"].runtime],
    )

    for key, (_, libraries) in FLOORS.items():
        runs[key] = (_TIMED.format(pause=_PAUSE, libraries=libraries, resume=_RESUME), floor_environment)
    samples: dict[str, list[float]] = {"baseline": [], **{key: [] for key in runs}}
    ratios: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(args.runs):
        before = time_once(BASELINE_CODE, baseline_environment)
        round_samples = {key: time_once(code, environment) for key, (code, environment) in runs.items()}
        after = time_once(BASELINE_CODE, baseline_environment)
        samples["baseline"] += [before, after]
        for key, seconds in round_samples.items():
            samples[key].append(seconds)
            ratios[key].append(seconds / ((before + after) / 2))
    untouched = all(tree.unchanged() for tree in staged.values())

    baseline = statistics.median(samples["baseline"])
    print(
        f"Cold start (median over {args.runs} rounds of fresh processes, read-only trees, no bytecode written), "
        f"Python {python_version()}, {platform.machine()}, {os.cpu_count()} cores"
    )
    floors = {
        key: {
            "what": what,
            "ms": round(statistics.median(samples[key]) * 1000),
            "ratio": round(statistics.median(ratios[key]), 2),
        }
        for key, (what, _) in FLOORS.items()
    }
    print(f"baseline: import boto3 + one client = {baseline * 1000:.0f} ms")
    for figures in floors.values():
        print(f"floor: {figures['what']} = {figures['ms']} ms, {figures['ratio']:.2f}x (no function's code)")
    print()
    print(
        f"| function | with bytecode (ms) | ratio | within {LIMIT:.2f}x | source only (ms) | ratio "
        "| largest imports, with bytecode (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    rows = []
    for name in functions:
        figures = {
            variant: {
                "ms": round(statistics.median(samples[f"{name}/{variant}"]) * 1000),
                "ratio": round(statistics.median(ratios[f"{name}/{variant}"]), 2),
            }
            for variant in VARIANTS
        }
        largest = breakdown(*runs[f"{name}/bytecode"])[:BREAKDOWN_TOP]
        rows.append(
            {
                "function": name,
                **figures["bytecode"],
                "source": figures["source"],
                "imports_ms": {package: round(ms, 1) for package, ms in largest},
            }
        )
        deployed = figures["bytecode"]
        print(
            f"| {name} | {deployed['ms']} | {deployed['ratio']:.2f} | {'yes' if deployed['ratio'] <= LIMIT else 'NO'} "
            f"| {figures['source']['ms']} | {figures['source']['ratio']:.2f} "
            f"| {', '.join(f'{package} {ms:.0f}' for package, ms in largest)} |"
        )
    if not untouched:
        print("\nA read-only tree gained bytecode: the measurement did not run the way Lambda does.")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "python": python_version(),
                    "baseline_ms": round(baseline * 1000),
                    "limit": LIMIT,
                    "floors": floors,
                    "functions": rows,
                },
                indent=2,
            )
        )
    return 0 if untouched and all(row["ratio"] <= LIMIT for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
