"""The Lambda code never depends on the local stack: nothing in src/ imports local/."""

from __future__ import annotations

import ast

from local.cfn_template import PROJECT_ROOT


def test_no_module_under_src_imports_the_local_stack():
    offenders = []
    for path in (PROJECT_ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path}: {name}" for name in names if name == "local" or name.startswith("local.")]

    assert offenders == []
