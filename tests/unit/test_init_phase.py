"""receipt_vault.init_phase: every function's init runs without the cyclic garbage collector, and
hands the environment over with the collector running and init's objects frozen.

Each function is imported in a child process, as Lambda's runtime imports it (the package, then
`<package>.app`), with the variables the template declares and the ones the runtime sets. What
would break it is a new function that forgets a half, or a line of init after `end()`.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.cfn_template import load_template, resources_of_type
from local.intrinsics import Resolver

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")

CHILD = """
import gc, importlib, json, sys
package, module = sys.argv[1], sys.argv[2]
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info["generation"]))
importlib.import_module(package)
paused_after_package = not gc.isenabled()
collections.clear()  # the package's own import ran before it paused anything
importlib.import_module(f"{package}.{module}")
print(json.dumps({
    "paused_after_package": paused_after_package,
    "collections_during_init": len(collections),
    "enabled_after_init": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}))
"""


def _environment(name: str, initialization_type: str | None) -> dict[str, str]:
    resolver = Resolver(
        TEMPLATE,
        {"InboundMailDomain": "receipts.example.com"},  # receipts by e-mail on: its function exists
        "eu-west-1",
        lambda resource: f"{resource}-test",
        lambda resource, attribute: f"arn:aws:test:eu-west-1:123456789012:{resource}",
    )
    declared = {
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        **FUNCTIONS[name]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    environment = {**os.environ, **{key: str(value) for key, value in resolver.resolve(declared).items()}}
    environment["AWS_LAMBDA_FUNCTION_NAME"] = name
    environment.pop("AWS_LAMBDA_INITIALIZATION_TYPE", None)
    if initialization_type:
        environment["AWS_LAMBDA_INITIALIZATION_TYPE"] = initialization_type
    return environment


def _init(name: str, initialization_type: str | None = "on-demand") -> dict[str, object]:
    package, module, _ = FUNCTIONS[name]["Properties"]["Handler"].split(".")
    child = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", CHILD, package, module],
        env=_environment(name, initialization_type),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_functions_init_runs_without_the_collector_and_ends_with_it_running(name: str) -> None:
    state = _init(name)
    assert state["paused_after_package"]
    assert state["collections_during_init"] == 0
    assert state["enabled_after_init"]
    assert state["frozen"] > 10_000  # boto3's and the layer's objects, never scanned again


@pytest.mark.parametrize("initialization_type", ["provisioned-concurrency", "snap-start"])
def test_every_kind_of_init_pauses_the_collector(initialization_type: str) -> None:
    state = _init("ReceiptCrudFunction", initialization_type)
    assert state["paused_after_package"] and state["collections_during_init"] == 0 and state["enabled_after_init"]


def test_outside_lambda_an_import_keeps_the_collector() -> None:
    """A test or a script that imports a function: nothing paused, nothing frozen."""
    state = _init("ReceiptCrudFunction", None)
    assert not state["paused_after_package"]
    assert state["enabled_after_init"]
    assert state["frozen"] == 0


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_end_is_the_last_statement_of_the_handler_module(name: str) -> None:
    """Init that ran after `end()` would leave its objects to the collector's full scans again."""
    package, module, _ = FUNCTIONS[name]["Properties"]["Handler"].split(".")
    code_dir = ROOT / FUNCTIONS[name]["Properties"]["CodeUri"]
    package_init = ast.parse((code_dir / package / "__init__.py").read_text())
    handler_module = ast.parse((code_dir / package / f"{module}.py").read_text())
    assert ast.unparse(package_init.body[-1]) == "init_phase.begin()"
    assert ast.unparse(handler_module.body[-1]) == "init_phase.end()"
