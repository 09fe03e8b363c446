"""The text a person sees in an HTML document: what the model refines an e-mailed receipt from.

An e-receipt forwarded by e-mail is HTML from anyone, so it is read as hostile input, with the
standard library's `html.parser` made safe for it by `MarkupReader`:
- it never raises: a marked section (`<![x[`), on which Python 3.11's parser fails an assertion,
  is read as the bogus comment it is in HTML, and NUL characters are dropped;
- it stays linear: on a construct left open at the end (`<a b='`, `<!--`), the parser's `close()`
  rescans from every following character, which is quadratic; a terminator appended to the
  document closes whatever is open, and is an empty comment when nothing is;
- it stops after MAX_EVENTS tags, attributes and pieces of text, which bounds the time on any
  document (a receipt has a few thousand).
`visible_text` lays the text out as a browser would, minus the styles: blocks and rows start
lines, the cells of a row share one ("Total €23.40") when each holds one line, whitespace runs
collapse, and script, style, the title, templates, noscript and comments are not text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from html.parser import HTMLParser

# Tags, attributes, end tags and pieces of text read from one document, at most: a receipt has a
# few thousand, and 100,000 take about a second.
MAX_EVENTS = 100_000
# A start tag longer than this has its attributes counted before html.parser reads them one by
# one: a single tag of a million attributes stops the reading there (html.parser's own regular
# expression still scans such a tag once, at about a microsecond an attribute).
_LONG_TAG_CHARS = 1024
_QUOTED_VALUE = re.compile(r"""=\s*(?:"[^"]*"|'[^']*')""")
_ATTRIBUTE_START = re.compile(r"[\s/]+[^\s/>]")
# Closes any construct a document leaves open (a tag, a quoted attribute value, a comment, a
# declaration); an empty comment when none is.
_TERMINATOR = "<!--'\"-->"
_SURROGATES = re.compile("[\ud800-\udfff]")
# Characters that are never seen: C0 controls but whitespace, DEL, and the invisible format
# characters e-mail templates pad their preheaders with (soft hyphen, zero-width space, word
# joiner, BOM, combining grapheme joiner, Mongolian vowel separator).
_UNSEEN = dict.fromkeys([*range(0x09), 0x0B, *range(0x0E, 0x20), 0x7F, 0xAD, 0x34F, 0x180E, 0x200B, 0x2060, 0xFEFF])
# Joiners (ZWNJ, ZWJ) are meaningful inside a word only.
_JOINERS = "\u200c\u200d"

# Elements whose content is never shown: code, metadata, inert templates, and the raw-text
# fallbacks of frames and plugins. (A head holds only these; text in it starts the body, as in
# a browser, so the head itself is not hidden.)
HIDDEN_ELEMENTS = frozenset(
    {"script", "style", "title", "template", "noscript", "iframe", "noembed", "noframes", "datalist"}
)
_LINE_BLOCKS = frozenset(
    {
        "article", "aside", "body", "caption", "center", "dd", "details", "dialog", "dir", "div", "dt",
        "fieldset", "figcaption", "footer", "form", "frameset", "header", "hgroup", "html", "legend", "li",
        "main", "menu", "nav", "optgroup", "option", "section", "select", "summary", "textarea",
    }
)  # fmt: skip
# Blocks with a margin: a blank line around them.
_PARAGRAPHS = frozenset(
    {"address", "blockquote", "dl", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "listing", "ol", "p",
     "plaintext", "pre", "ul", "xmp"}
)  # fmt: skip
_ROW_GROUPS = frozenset({"thead", "tbody", "tfoot"})
_CELLS = frozenset({"td", "th"})


class _StopReadingError(Exception):
    """Raised by a handler to end the reading of a document."""


class MarkupReader(HTMLParser):
    """`html.parser` for hostile markup: `read` a whole document and get `start`, `end` and
    `text` events, entities decoded. A self-closing slash on an element that is not void is
    ignored, as browsers do (`<script/>` still starts a script). `stop()` ends the reading."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        super().__init__(convert_charrefs=True)
        self._events_left = max_events

    def read(self, html: str) -> bool:
        """Read the whole document: True if it was read to its end, False if stopped (by
        `stop()` or after MAX_EVENTS events)."""
        document = _SURROGATES.sub("\ufffd", html.replace("\x00", "")) + _TERMINATOR
        try:
            self.feed(document)
            self.close()
        except _StopReadingError:
            return False
        except AssertionError:  # html.parser's own consistency checks: read as far as they let it
            return False
        return True

    def stop(self) -> None:
        raise _StopReadingError

    def start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A start tag, its name and attribute names lower-case."""

    def end(self, tag: str) -> None:
        """An end tag."""

    def text(self, data: str) -> None:
        """A piece of text (or of a script's or style's source)."""

    # html.parser's interface, counted.

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._count(1 + len(attrs))
        self.start(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in self.CDATA_CONTENT_ELEMENTS:
            self.set_cdata_mode(tag)

    def handle_endtag(self, tag: str) -> None:
        self._count()
        self.end(tag)

    def handle_data(self, data: str) -> None:
        self._count()
        self.text(data)

    def handle_comment(self, data: str) -> None:
        self._count()

    def handle_decl(self, decl: str) -> None:
        self._count()

    def handle_pi(self, data: str) -> None:
        self._count()

    def unknown_decl(self, data: str) -> None:
        self._count()

    def check_for_whole_start_tag(self, i: int) -> int:
        end = super().check_for_whole_start_tag(i)
        if end - i > _LONG_TAG_CHARS:  # values apart, each run of separators starts an attribute
            self._count(_ATTRIBUTE_START.subn("", _QUOTED_VALUE.sub("", self.rawdata[i:end]))[1])
        return end

    def parse_html_declaration(self, i: int) -> int:
        if self.rawdata.startswith("<![", i):  # HTML has no marked sections: a bogus comment
            return self.parse_bogus_comment(i)
        return super().parse_html_declaration(i)

    def _count(self, events: int = 1) -> None:
        self._events_left -= events
        if self._events_left < 0:
            raise _StopReadingError


def visible_text(html: str, max_chars: int = 20000) -> str:
    """The text a person sees in `html`, a line per line of the page, at most `max_chars`
    characters. Never raises, whatever the markup."""
    if max_chars <= 0:
        return ""
    collector = _TextCollector(max_chars)
    collector.read(html)
    return "\n".join(collector.finish())[:max_chars].rstrip()


class _Lines:
    """Text laid out into lines: pieces gather into the current line until a break; whitespace
    collapses when a line ends. Holds at most about `limit` characters: past that, nothing of
    it can be shown."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.size = 0
        self.full = False
        self._pieces: list[str] = []
        self._pending = 0  # characters in _pieces
        self._has_text = False  # _pieces hold more than whitespace
        self._blank_wanted = False

    def add(self, data: str) -> None:
        if self.full:
            return
        data = data.translate(_UNSEEN)
        self._pieces.append(data)
        self._pending += len(data)
        if data and not data.isspace():
            self._has_text = True
        if self._pending > 2 * self.limit + 64:
            self._compact()

    def newline(self) -> None:
        """End the current line, if it has text."""
        if self._has_text:
            self.line(_collapse("".join(self._pieces)))
        self._pieces.clear()
        self._pending = 0
        self._has_text = False

    def paragraph(self) -> None:
        """End the current line, and leave a blank line before the next."""
        self.newline()
        self._blank_wanted = True

    def line_break(self) -> None:
        """`<br>`: end the current line, or on an empty one leave a blank line."""
        if self._has_text:
            self.newline()
        elif self.lines and self.lines[-1]:
            self._append("")

    def line(self, text: str) -> None:
        """A whole line, already collapsed."""
        if not text or self.full:
            return
        if self._blank_wanted and self.lines and self.lines[-1]:
            self._append("")
        self._blank_wanted = False
        self._append(text)

    def lines_of(self, lines: Iterable[str]) -> None:
        """Lines laid out elsewhere (a cell's), blank ones kept as breaks."""
        self.newline()
        for text in lines:
            if text:
                self.line(text)
            else:
                self._blank_wanted = True

    def finish(self) -> list[str]:
        self.newline()
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return self.lines

    def _append(self, text: str) -> None:
        self.lines.append(text)
        self.size += len(text) + 1
        if self.size > self.limit:
            self.full = True

    def _compact(self) -> None:
        """A long line in the making: collapse what it has so far, keeping its edges' spaces."""
        joined = "".join(self._pieces)
        collapsed = _collapse(joined)
        if collapsed and joined[-1:].isspace():
            collapsed += " "
        if len(collapsed) > self.limit:
            self._pieces = [collapsed[: self.limit + 1]]
            self.newline()
            self.full = True
            return
        self._pieces = [collapsed]
        self._pending = len(collapsed)


def _collapse(text: str) -> str:
    """Words joined by single spaces; joiners at a word's edges join nothing, and go."""
    return " ".join(word for word in (word.strip(_JOINERS) for word in text.split()) if word)


class _Table:
    """An open table: its current row's cells, laid out separately until the row ends."""

    def __init__(self, parent: _Lines) -> None:
        self.parent = parent
        self.row: list[_Lines] | None = None
        self.cell: _Lines | None = None


class _TextCollector(MarkupReader):
    def __init__(self, max_chars: int) -> None:
        super().__init__()
        self._limit = max_chars
        self._page = _Lines(max_chars)
        self._tables: list[_Table] = []
        self._hidden: list[str] = []  # the hidden elements open, innermost last
        self._open_hidden: Counter[str] = Counter()
        self._preformatted = 0

    def finish(self) -> list[str]:
        while self._tables:
            self._close_table()
        return self._page.finish()

    def start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_ELEMENTS:
            self._hidden.append(tag)
            self._open_hidden[tag] += 1
        if self._hidden:
            return
        if tag == "br":
            self._writer().line_break()
        elif tag in _CELLS:
            self._open_cell()
        elif tag == "tr" or tag in _ROW_GROUPS:
            self._end_row()
        elif tag == "table":
            writer = self._writer()
            writer.newline()
            self._tables.append(_Table(writer))
        elif tag in _PARAGRAPHS:
            self._writer().paragraph()
            if tag in ("pre", "listing"):
                self._preformatted += 1
        elif tag in _LINE_BLOCKS:
            self._writer().newline()
        if self._page.full:  # a row laid out, or a line ended
            self.stop()

    def end(self, tag: str) -> None:
        if self._hidden:
            if self._open_hidden[tag]:  # closes it, and whatever hidden element it holds
                while True:
                    closed = self._hidden.pop()
                    self._open_hidden[closed] -= 1
                    if closed == tag:
                        break
            return
        if tag == "br":  # `</br>` is a line break in HTML
            self._writer().line_break()
        elif tag in _CELLS:
            self._end_cell()
        elif tag == "tr" or tag in _ROW_GROUPS:
            self._end_row()
        elif tag == "table":
            if self._tables:
                self._close_table()
        elif tag in _PARAGRAPHS:
            self._writer().paragraph()
            if tag in ("pre", "listing") and self._preformatted:
                self._preformatted -= 1
        elif tag in _LINE_BLOCKS:
            self._writer().newline()
        if self._page.full:
            self.stop()

    def text(self, data: str) -> None:
        if self._hidden:
            return
        writer = self._writer()
        if self._preformatted:
            first, *others = data.split("\n")
            writer.add(first)
            for part in others:
                writer.line_break()
                writer.add(part)
        else:
            writer.add(data)
        if self._page.full:
            self.stop()

    def _writer(self) -> _Lines:
        """Where text goes: the open cell of the innermost table, else (text in a table but
        outside its cells, which browsers show before the table) the table's surroundings."""
        if not self._tables:
            return self._page
        table = self._tables[-1]
        return table.cell if table.cell is not None else table.parent

    def _open_cell(self) -> None:
        if not self._tables:  # a cell outside any table: a separator
            self._writer().add(" ")
            return
        table = self._tables[-1]
        self._end_cell()
        if table.row is None:
            table.row = []
        table.cell = _Lines(self._limit)

    def _end_cell(self) -> None:
        if not self._tables:
            return
        table = self._tables[-1]
        if table.cell is not None and table.row is not None:
            table.row.append(table.cell)
        table.cell = None

    def _end_row(self) -> None:
        """The row is laid out into the table's surroundings: on one line if each of its cells
        holds one, else cell after cell."""
        if not self._tables:
            self._writer().newline()
            return
        self._end_cell()
        table = self._tables[-1]
        if table.row is None:
            return
        cells = [lines for lines in (cell.finish() for cell in table.row) if lines]
        table.row = None
        table.parent.newline()
        if all(len(lines) == 1 for lines in cells):
            table.parent.line(" ".join(lines[0] for lines in cells))
        else:
            for lines in cells:
                table.parent.lines_of(lines)

    def _close_table(self) -> None:
        self._end_row()
        table = self._tables.pop()
        table.parent.newline()
