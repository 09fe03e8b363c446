"""`make build`'s bytecode step (local/bytecode.py): what Lambda's read-only code directories load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from local.bytecode import compile_tree, main

ROOT = Path(__file__).resolve().parents[2]


def imported_value(tree: Path) -> str:
    """What `import package.module` yields from `tree` as Lambda runs it: nothing written."""
    environment = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-S", "-c", "import package.module as m; print(m.VALUE)"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_the_bytecode_is_loaded_whatever_the_sources_timestamp(tmp_path: Path) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = package / "module.py"
    source.write_text('VALUE = "compiled"\n')

    assert compile_tree(tmp_path)
    # sam package zips every file dated 1980, and the source may differ from what was compiled:
    # unchecked-hash bytecode is loaded without either check, so no cold start compiles.
    source.write_text('VALUE = "source!"\n')
    os.utime(source, (315532800, 315532800))
    assert imported_value(tmp_path) == "compiled"
    assert sorted(path.name for path in (package / "__pycache__").iterdir()) == [
        f"__init__.{sys.implementation.cache_tag}.pyc",
        f"module.{sys.implementation.cache_tag}.pyc",
    ]


def test_a_module_that_does_not_compile_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def (:\n")
    assert main([str(tmp_path)]) == 1


def test_without_a_build_it_says_what_to_run(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / ".aws-sam" / "build")]) == 2
    assert "sam build" in capsys.readouterr().err


def test_make_build_compiles_the_build_output_with_the_runtimes_python() -> None:
    recipe = (ROOT / "Makefile").read_text().split("\nbuild:", 1)[1].split("\n\n", 1)[0]
    assert "sam build" in recipe
    assert "python3.12 -m local.bytecode .aws-sam/build" in recipe
    assert recipe.index("sam build") < recipe.index("local.bytecode")
