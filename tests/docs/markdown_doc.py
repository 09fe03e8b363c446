"""Reading the project's Markdown as GitHub renders it: links, headings and their anchors, tables.

Only what the documentation tests need, and nothing of a Markdown library: fenced code blocks and
inline code spans hold no links and no headings, ATX and setext headings get GitHub's anchor
slugs (duplicates numbered), and a section's first table is read as rows of cells.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_EXTERNAL = re.compile(r"^(https?|mailto):", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_files(root: Path = ROOT) -> list[Path]:
    """The README and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    fence = ""
    for number, line in enumerate(text.splitlines(), start=1):
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        yield number, line


@dataclass(frozen=True)
class Link:
    line: int
    target: str


def links(text: str) -> list[Link]:
    """Every link and image target in prose: inline, reference definitions and HTML."""
    found = []
    for number, line in _prose_lines(text):
        prose = _INLINE_CODE.sub("", line)
        targets = [match.group(1) for match in _INLINE_LINK.finditer(prose)]
        targets += [match.group(1) for match in _HTML_LINK.finditer(prose)]
        definition = _REFERENCE_DEFINITION.match(prose)
        if definition:
            targets.append(definition.group(1))
        found += [Link(number, target.strip("<>")) for target in targets]
    return found


def _plain_heading_text(markdown: str) -> str:
    """A heading's text as rendered: link and image text kept, code marks, emphasis and HTML gone."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "")
    return re.sub(r"(\*{1,3})(?=\S)(.+?)(?<=\S)\1", r"\2", text)


def slug(heading_text: str) -> str:
    """GitHub's anchor for a heading (github-slugger): lower case, punctuation dropped, each space a dash."""
    text = _plain_heading_text(heading_text).strip().lower()
    text = "".join(char for char in text if char.isalnum() or char in "-_ ")
    return text.replace(" ", "-")


def headings(text: str) -> list[str]:
    """The text of every heading, in order."""
    found = []
    previous = ""
    for _, line in _prose_lines(text):
        atx = _ATX_HEADING.match(line)
        if atx:
            found.append(atx.group(2))
        elif _SETEXT_UNDERLINE.match(line) and previous.strip() and not previous.lstrip().startswith(("|", "-", "*")):
            found.append(previous.strip())
        previous = line
    return found


def anchors(text: str) -> set[str]:
    """Every heading anchor GitHub makes for the text, duplicates numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(text):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def link_problems(root: Path, files: Iterable[Path], optional: Iterable[Path] = ()) -> list[str]:
    """Every relative link that does not resolve to a file or directory inside `root` (with its
    heading, for an anchor into Markdown), every link that leaves `root`, and every link with a
    scheme other than http(s) or mailto. A link to one of `optional` is checked only when that
    file exists."""
    root = root.resolve()
    optional = {Path(path).resolve() for path in optional}
    problems = []
    for source in files:
        text = source.read_text(encoding="utf-8")
        where = source.relative_to(root)
        for link in links(text):
            problem = _problem(root, source, text, link.target, optional)
            if problem:
                problems.append(f"{where}:{link.line}: {link.target}: {problem}")
    return problems


def _problem(root: Path, source: Path, text: str, target: str, optional: set[Path]) -> str | None:
    if _EXTERNAL.match(target):
        return None
    if _SCHEME.match(target):
        return "only relative links and http(s) links are allowed"
    path_part, _, fragment = target.partition("#")
    path_part = urllib.parse.unquote(path_part)
    if path_part.startswith("/"):
        return "use a path relative to this file, not one starting with /"
    if path_part:
        written = Path(os.path.normpath(source.parent / path_part))
        if not written.is_relative_to(root) or not written.resolve().is_relative_to(root):
            return "leaves the repository"
        resolved = written.resolve()
        if not resolved.exists():
            return None if resolved in optional else "no such file or directory"
    else:
        resolved = source
    if fragment and resolved.suffix == ".md":
        target_text = text if resolved == source else resolved.read_text(encoding="utf-8")
        if urllib.parse.unquote(fragment) not in anchors(target_text):
            return f"no heading with the anchor #{fragment}"
    return None


def section(text: str, heading: str) -> str:
    """The text under the heading whose text is `heading`, up to the next heading of its level or above."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _ATX_HEADING.match(line)
        if match and match.group(2).strip() == heading:
            level = len(match.group(1))
            body = []
            for following in lines[index + 1 :]:
                other = _ATX_HEADING.match(following)
                if other and len(other.group(1)) <= level:
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError(f"no heading {heading!r}")


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of the first table in `text` (header and delimiter row left out)."""
    rows: list[list[str]] = []
    in_table = False
    for _, line in _prose_lines(text):
        stripped = line.strip()
        if stripped.startswith("|"):
            in_table = True
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", stripped.strip("|"))]
            rows.append(cells)
        elif in_table:
            break
    if len(rows) < 2 or not all(re.fullmatch(r":?-+:?", cell) for cell in rows[1]):
        raise AssertionError("no table found")
    return rows[2:]


def code_spans(cell: str) -> list[str]:
    """The contents of the inline code spans in a piece of Markdown, in order."""
    return [match.group(0).strip("`").strip() for match in _INLINE_CODE.finditer(cell)]
