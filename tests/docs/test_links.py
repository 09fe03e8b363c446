"""Every relative link in the README and under docs/ resolves inside the repository, anchors included.

Absolute http(s) links to outside documentation are allowed; a relative link that climbs out of
the repository (`../shared/...`) is not, as nobody who clones it has that file. docs/architecture.md
may not exist yet: links to it are checked once it does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.markdown_doc import DOCS, README, ROOT, anchors, link_problems, links, markdown_files, slug

ARCHITECTURE = DOCS / "architecture.md"  # written separately; tolerated while absent


@pytest.mark.parametrize("document", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(document):
    assert link_problems(ROOT, [document], optional=[ARCHITECTURE]) == []


def test_the_readme_links_to_every_document_under_docs():
    linked = {
        (README.parent / link.target.partition("#")[0]).resolve()
        for link in links(README.read_text(encoding="utf-8"))
        if not link.target.startswith(("http://", "https://", "#"))
    }
    orphans = [str(path.relative_to(ROOT)) for path in sorted(DOCS.rglob("*.md")) if path.resolve() not in linked]

    assert orphans == []


# The checker itself, on a repository made for the purpose: each rule must catch its violation.


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "api").mkdir()
    (root / "api" / "openapi.yaml").write_text("openapi: 3.0.1\n")
    (root / "docs" / "guide.md").write_text("# Guide\n\n## The local stack (`make dev`)\n\n## Sizes\n\n## Sizes\n")
    return root


def _problems(root: Path, readme: str, optional: tuple[Path, ...] = ()) -> list[str]:
    (root / "README.md").write_text(readme)
    return link_problems(root, [root / "README.md"], optional=optional)


def test_the_checker_accepts_files_directories_anchors_and_outside_documentation(repository):
    readme = (
        "[contract](api/openapi.yaml) [docs](docs/) [guide](docs/guide.md#the-local-stack-make-dev)\n"
        "[second sizes](docs/guide.md#sizes-1) [here](#readme) [AWS](https://docs.aws.amazon.com/)\n"
        "[ref]: docs/guide.md\n\n# README\n"
    )

    assert _problems(repository, readme) == []


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("../shared/spec/receipt-vault-aws-infrastructure.md", "leaves the repository"),
        ("docs/../../outside.md", "leaves the repository"),
        ("docs/missing.md", "no such file or directory"),
        ("docs/guide.md#no-such-heading", "no heading with the anchor #no-such-heading"),
        ("#nowhere", "no heading with the anchor #nowhere"),
        ("/api/openapi.yaml", "not one starting with /"),
        ("file:///etc/passwd", "only relative links and http(s) links are allowed"),
    ],
)
def test_the_checker_reports_a_broken_or_escaping_link(repository, target, reason):
    (problem,) = _problems(repository, f"# README\n\nSee [this]({target}).\n")

    assert problem.startswith(f"README.md:3: {target}: ")
    assert reason in problem


def test_the_checker_catches_a_link_that_leaves_through_a_symbolic_link(repository, tmp_path):
    (tmp_path / "outside.md").write_text("# Outside\n")
    (repository / "docs" / "escape.md").symlink_to(tmp_path / "outside.md")

    (problem,) = _problems(repository, "[out](docs/escape.md)\n")

    assert "leaves the repository" in problem


def test_the_checker_ignores_links_in_code_and_checks_an_optional_file_only_once_it_exists(repository):
    readme = "```\n[not a link](../outside.md)\n```\n\n`[nor this](../outside.md)` [later](docs/later.md#part)\n"
    later = repository / "docs" / "later.md"

    assert _problems(repository, readme, optional=(later,)) == []
    later.write_text("# Later\n")
    assert _problems(repository, readme, optional=(later,)) == [
        "README.md:5: docs/later.md#part: no heading with the anchor #part"
    ]


def test_anchors_are_githubs_slugs():
    assert slug("The local stack (`make dev`)") == "the-local-stack-make-dev"
    assert slug("With Docker: `sam local`") == "with-docker-sam-local"
    assert slug("2026-12-02: No client IP in the API access log") == "2026-12-02-no-client-ip-in-the-api-access-log"
    assert slug("Settings, devices and notifications") == "settings-devices-and-notifications"
    assert slug("A **bold** [link](x.md) and user_settings") == "a-bold-link-and-user_settings"
    assert anchors("# Sizes\n\nSizes\n-----\n\n## Sizes\n") == {"sizes", "sizes-1", "sizes-2"}
