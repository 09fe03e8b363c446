"""A function's cold start in this process, for tests and benchmarks that call handlers directly.

The handler module `<function>.app` is executed afresh, so its settings, clients and warm state
come from the caller's current environment variables (and moto), as a new execution environment's
would; two loads are two environments. The package's other modules are ordinary imports: code
without state, shared. (The local stack runs functions in worker processes instead: local/runtime.py.)
"""

from __future__ import annotations

import importlib.util
from types import ModuleType


def cold_start(function_package: str, module: str = "app") -> ModuleType:
    """A new instance of `src/<function_package>/<function_package>/<module>.py`."""
    spec = importlib.util.find_spec(f"{function_package}.{module}")
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module {function_package}.{module}: is the venv's .pth installed (make venv)?")
    instance = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(instance)
    return instance
