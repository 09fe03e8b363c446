"""The README stays short and true: its length, its two set-up commands and the layout it describes."""

from __future__ import annotations

import re

from local.cfn_template import load_template, resources_of_type
from tests.docs.markdown_doc import README, ROOT, section

MAX_README_LINES = 220
TEXT = README.read_text(encoding="utf-8")
FUNCTIONS = resources_of_type(load_template(), "AWS::Serverless::Function")


def _make_rules() -> dict[str, list[str]]:
    """target: prerequisites, for every explicit rule of the Makefile."""
    rules: dict[str, list[str]] = {}
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z][\w.-]*)\s*:(?![:=])(.*)$", line)
        if match:
            rules.setdefault(match.group(1), []).extend(match.group(2).split())
    return rules


def _prerequisites(target: str, rules: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    pending = [target]
    while pending:
        for prerequisite in rules.get(pending.pop(), []):
            if prerequisite not in seen:
                seen.add(prerequisite)
                pending.append(prerequisite)
    return seen


def _code_block_commands(text: str) -> list[str]:
    block = re.search(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    assert block, "no code block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


def test_the_readme_is_at_most_220_lines():
    assert len(TEXT.splitlines()) <= MAX_README_LINES


def test_the_readme_names_exactly_two_set_up_commands_and_both_install_first():
    rules = _make_rules()

    assert _code_block_commands(section(TEXT, "Set-up: two commands")) == ["make dev", "make test"]
    assert "venv" in _prerequisites("dev", rules)
    assert {"venv", "lint", "unit", "fuzz"} <= _prerequisites("test", rules)


def test_the_readme_deploys_with_make_build_and_a_guided_sam_deploy():
    (command,) = _code_block_commands(section(TEXT, "Deploy"))

    assert command.startswith("make build && .venv/bin/sam deploy --guided")
    assert "build" in _make_rules()


def test_every_path_in_the_readme_layout_exists():
    block = re.search(r"```\n(.*?)```", section(TEXT, "Repository layout"), re.DOTALL).group(1)
    entries = [line.split()[0] for line in block.splitlines() if line.strip() and len(line) - len(line.lstrip()) <= 2]
    paths = [entry for entry in entries if "<" not in entry]  # src/<function>/: the next test

    assert paths, "the layout block names no paths"
    assert [path for path in paths if not (ROOT / path).exists()] == []


def test_every_function_is_a_package_named_for_it_as_the_readme_says():
    layout = section(TEXT, "Repository layout")
    listed = re.search(r"The functions are (.*?)\s*\(", layout, re.DOTALL).group(1)
    named = set(re.split(r"[\s,]+", listed)) - {"and"}
    code_dirs = {function["Properties"]["CodeUri"].strip("/").removeprefix("src/") for function in FUNCTIONS.values()}

    assert named == code_dirs
    for name, function in FUNCTIONS.items():
        code_dir = function["Properties"]["CodeUri"].strip("/").removeprefix("src/")
        assert function["Properties"]["Handler"] == f"{code_dir}.app.lambda_handler", name
        assert (ROOT / "src" / code_dir / code_dir / "app.py").is_file(), name
