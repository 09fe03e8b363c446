"""A receipt that came as HTML-only e-mail: its original, made safe to store and to show, and
the visible text its refinement reads.

The HTML is hostile input. What is kept renders the receipt and can do nothing else:
- nh3 (the binding of the Rust sanitiser ammonia) decides what survives: formatting and table
  markup; no script, style, frame, plugin, form, SVG or MathML, no event handler, no `style` or
  `background` attribute (CSS `url()` loads remote content); links to http(s) and mailto only,
  with rel="noopener noreferrer nofollow";
- nothing remote: an image shows a `cid:` part or an inline base64 PNG, JPEG, GIF or WebP, and
  any other image (a remote logo, a 1x1 tracking pixel) is removed whole;
- the document's Content-Security-Policy loads nothing but inline images: a second line for
  whoever renders it.
nh3 reads a rewrite of the markup (`_Normaliser`), because html5ever, ammonia's parser, has no
nesting limit (its scope checks make 100,000 nested tags take over a minute) and re-opens the
formatting elements an implicit close pops, for every paragraph after them (15 KB of markup came
out as 640,000 elements, 12 MB). The rewrite is well-formed: at most MAX_DEPTH open elements and
MAX_OPEN_FORMATTING formatting ones, each closed explicitly, innermost first, including where
HTML closes implicitly (a `<p>` before a block, an `<li>` before the next), so that html5ever
has nothing to re-open; and it keeps only what nh3 allows, through the same checks.
"""

from __future__ import annotations

import html as html_escaping
import re
from collections import defaultdict
from collections.abc import Callable

import nh3

from receipt_vault.html_text import HIDDEN_ELEMENTS, MarkupReader, visible_text

# Open elements, at most: far deeper than any e-mail's nested layout tables.
MAX_DEPTH = 100
# Open formatting elements (b, i, font, a, ...), at most: what html5ever might re-open at once.
MAX_OPEN_FORMATTING = 12
# An image's alt text longer than this is cut: a description is a sentence, and html5ever slows
# down quadratically on an attribute of many character references.
MAX_ALT_CHARS = 1000
# Character references in one text node, at most (see _Normaliser.text).
REFERENCES_PER_TEXT_NODE = 500
_REFERENCE = re.compile("&")
# A link longer than this is dropped (the text stays): a tracking URL is a few hundred characters.
MAX_URL_CHARS = 4096
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)
_DOCUMENT_START = (
    '<!DOCTYPE html><html><head><meta charset="utf-8">'
    f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
    '<meta name="referrer" content="no-referrer">'
    "<title>Receipt</title></head><body>"
)
_DOCUMENT_END = "</body></html>"

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_ROW_GROUPS = frozenset({"thead", "tbody", "tfoot"})
_CELLS = frozenset({"td", "th"})
_TABLE_PARTS = frozenset({"table", "caption", "tr", *_ROW_GROUPS, *_CELLS})
# Where HTML's scopes end (and where its list of formatting elements has a marker).
_SCOPE_BOUNDARIES = frozenset({"table", "caption", *_CELLS})
_VOID = frozenset({"br", "hr", "img", "wbr"})
# HTML's "active formatting elements", which html5ever re-opens after an implicit close.
_FORMATTING = frozenset({"a", "b", "big", "code", "em", "font", "i", "s", "small", "strike", "strong", "tt", "u"})
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "address", "article", "aside", "b", "big", "blockquote", "br", "caption", "center", "cite",
        "code", "dd", "del", "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer", "header", "hr",
        "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "s", "samp", "section",
        "small", "span", "strike", "strong", "sub", "sup", "tt", "u", "ul", "var", "wbr",
        *_HEADINGS, *_TABLE_PARTS,
    }
)  # fmt: skip
# HTML's "special" elements, among those allowed: an end tag of another element does not close
# past them, nor does an `<li>` look for an open one past them (but for address, div and p).
_SPECIAL = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "center", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "header", "hr", "img", "li", "main", "nav", "ol", "p", "pre", "section", "ul",
        "wbr", *_HEADINGS, *_TABLE_PARTS,
    }
)  # fmt: skip
# Start tags before which HTML closes an open paragraph.
_CLOSE_PARAGRAPH = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "figcaption", "figure",
        "footer", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "ul", *_HEADINGS,
    }
)  # fmt: skip
# Dropped with everything inside: code, metadata, frames' and plugins' raw-text fallbacks, and
# the foreign SVG and MathML (which may carry their own scripts and styles).
DROPPED_WITH_CONTENT = HIDDEN_ELEMENTS | {"svg", "math"}

_GENERIC_ATTRIBUTES = frozenset({"dir", "lang"})
_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href"}),
    "img": frozenset({"src", "alt", "width", "height", "align", "border"}),
    "table": frozenset({"width", "height", "align", "border", "cellpadding", "cellspacing", "bgcolor"}),
    "tr": frozenset({"align", "valign", "bgcolor", "height"}),
    "font": frozenset({"color", "size"}),
    "hr": frozenset({"width", "align"}),
    **dict.fromkeys(_CELLS, frozenset({"colspan", "rowspan", "width", "height", "align", "valign", "bgcolor"})),
    **dict.fromkeys(_ROW_GROUPS, frozenset({"align", "valign"})),
    **dict.fromkeys({"p", "div", *_HEADINGS}, frozenset({"align"})),
}
_LINK = re.compile(r"(?:https?://|mailto:)", re.IGNORECASE)
_IMAGE_SOURCE = re.compile(
    r"cid:[^\s\"'<>]+|data:image/(?:png|jpe?g|gif|webp);base64,[A-Za-z0-9+/]+={0,2}", re.IGNORECASE
)
_URL_NOISE = re.compile(r"[\t\n\r]")  # removed anywhere in a URL by browsers' parsers
_LENGTH = re.compile(r"\d{1,4}(?:\.\d{1,2})?(?:%|px)?", re.IGNORECASE)
_COUNT = re.compile(r"\d{1,3}")
_FONT_SIZE = re.compile(r"[+-]?[1-7]")
_COLOR = re.compile(r"#[0-9a-f]{3,8}|[a-z]{3,20}", re.IGNORECASE)
_LANGUAGE = re.compile(r"[a-z]{1,8}(?:-[a-z0-9]{1,8}){0,3}", re.IGNORECASE)
_ALIGNMENTS = frozenset({"left", "right", "center", "justify", "top", "middle", "bottom"})
_VERTICAL_ALIGNMENTS = frozenset({"top", "middle", "bottom", "baseline"})
_DIRECTIONS = frozenset({"ltr", "rtl", "auto"})
# In nh3's output `<` and `>` are escaped everywhere but around tags, so this finds whole tags.
_IMG_TAG = re.compile(r"<img\b[^>]*>")


def sanitize_html(html: str) -> str:
    """The receipt as a complete, self-contained HTML document that loads nothing."""
    normaliser = _Normaliser()
    normaliser.read(html)
    cleaned = _CLEANER.clean(normaliser.finish())
    cleaned = _IMG_TAG.sub(lambda tag: tag[0] if ' src="' in tag[0] else "", cleaned)
    return _DOCUMENT_START + cleaned.strip() + _DOCUMENT_END


def receipt_text(html: str) -> str:
    """The text a person sees in the sanitised receipt: what its refinement reads."""
    return visible_text(sanitize_html(html))


def _attribute_value(tag: str, name: str, value: str) -> str | None:
    """The value an allowed attribute keeps, or None to drop it (nh3's attribute_filter too)."""
    if name == "href":
        return _link(value)
    if name == "src":
        source = value.strip(" \t\n\r\f")
        return source if _IMAGE_SOURCE.fullmatch(source) else None
    if name in ("alt", "rel"):  # text; rel is nh3's own link_rel
        return value[:MAX_ALT_CHARS]
    stripped = value.strip()
    check = _VALUE_CHECKS.get(name)
    return stripped if check is not None and check(stripped) else None


def _link(value: str) -> str | None:
    """An http, https or mailto URL, as a browser reads it (tabs and newlines inside, spaces
    and controls around, removed), or None."""
    url = _URL_NOISE.sub("", value).strip(_CONTROLS_AND_SPACE)
    if len(url) > MAX_URL_CHARS or not _LINK.match(url):
        return None
    return url


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: pattern.fullmatch(value) is not None


def _one_of(values: frozenset[str]) -> Callable[[str], bool]:
    return lambda value: value.lower() in values


_CONTROLS_AND_SPACE = "".join(map(chr, range(0x21)))
_VALUE_CHECKS: dict[str, Callable[[str], bool]] = {
    **dict.fromkeys(("width", "height"), _matches(_LENGTH)),
    **dict.fromkeys(("colspan", "rowspan", "border", "cellpadding", "cellspacing"), _matches(_COUNT)),
    **dict.fromkeys(("color", "bgcolor"), _matches(_COLOR)),
    "size": _matches(_FONT_SIZE),
    "lang": _matches(_LANGUAGE),
    "align": _one_of(_ALIGNMENTS),
    "valign": _one_of(_VERTICAL_ALIGNMENTS),
    "dir": _one_of(_DIRECTIONS),
}


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={"*": set(_GENERIC_ATTRIBUTES), **{tag: set(names) for tag, names in _ATTRIBUTES.items()}},
    attribute_filter=_attribute_value,
    strip_comments=True,
    link_rel="noopener noreferrer nofollow",
    url_schemes={"http", "https", "mailto", "cid", "data"},
    url_relative="deny",
)


class _Normaliser(MarkupReader):
    """The document rewritten well-formed, bounded and of the allowed elements only (see the
    module's docstring): every element is closed explicitly, innermost first."""

    def __init__(self) -> None:
        super().__init__()
        self._out: list[str] = []
        self._references = 0  # character references in the text since the last split
        self._stack: list[str] = []  # open elements, innermost last
        # Indices into _stack, innermost last: of the open elements by name, of the special
        # ones, of the scope boundaries and of the tables.
        self._open: defaultdict[str, list[int]] = defaultdict(list)
        self._special: list[int] = []
        self._boundaries: list[int] = []
        self._formatting = 0
        self._dropped: list[str] = []  # open elements dropped with their content, innermost last
        self._dropped_open: defaultdict[str, int] = defaultdict(int)

    def finish(self) -> str:
        self._close_through(0)
        return "".join(self._out)

    def start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_WITH_CONTENT:
            self._dropped.append(tag)
            self._dropped_open[tag] += 1
            return
        if self._dropped or tag not in ALLOWED_TAGS:
            return
        if tag in _TABLE_PARTS:
            self._start_table_part(tag, attrs)
            return
        if self._in_table_body():  # HTML would move it before the table: dropped, its text stays
            return
        if tag not in _VOID and len(self._stack) >= MAX_DEPTH:
            return
        if tag in _FORMATTING and self._formatting >= MAX_OPEN_FORMATTING:
            return
        kept = _kept_attributes(tag, attrs)
        if tag == "img" and "src" not in kept:
            return  # remote, or no picture at all: nothing to show
        if tag == "a" and self._top("a") > self._last(self._boundaries):
            self._close_through(self._top("a"))  # a link inside a link ends the first
        if tag in ("li", "dd", "dt"):
            self._close_list_item(("li",) if tag == "li" else ("dd", "dt"))
        if tag in _CLOSE_PARAGRAPH and self._top("p") > self._last(self._boundaries):
            self._close_through(self._top("p"))
        if tag in _HEADINGS and self._stack and self._stack[-1] in _HEADINGS:
            self._close_through(len(self._stack) - 1)
        self._emit_start(tag, kept)

    def end(self, tag: str) -> None:
        if self._dropped:
            if self._dropped_open[tag]:  # closes it, and whatever dropped element it holds
                while True:
                    closed = self._dropped.pop()
                    self._dropped_open[closed] -= 1
                    if closed == tag:
                        break
            return
        if tag == "br" and not self._in_table_body():  # `</br>` is a `<br>` in HTML
            self._emit_start("br", {})
            return
        if tag not in ALLOWED_TAGS or not self._open[tag]:
            return
        index = self._top(tag)
        if tag == "table":
            self._close_through(index)
        elif tag in _TABLE_PARTS:
            if index > self._top("table"):  # one of the innermost table's
                self._close_through(index)
        elif tag in _FORMATTING:
            if index > self._last(self._boundaries):
                self._close_through(index)
        elif index >= self._last(self._special):
            self._close_through(index)

    def text(self, data: str) -> None:
        if self._dropped:
            return
        escaped = html_escaping.escape(data, quote=False)
        # html5ever (nh3's parser) slows down quadratically on one text node of many character
        # references (`&#&#...`: minutes for a megabyte): an empty span splits it, invisibly.
        start = 0
        for reference in _REFERENCE.finditer(escaped):
            self._references += 1
            if self._references >= REFERENCES_PER_TEXT_NODE:
                self._out.append(escaped[start : reference.start()] + "<span></span>")
                start, self._references = reference.start(), 0
        self._out.append(escaped[start:])

    def _start_table_part(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Tables as HTML builds them: a part outside a table is dropped, a cell outside a row
        gets one, and a new row, cell or section closes the open one."""
        table = self._top("table")
        if tag == "table":
            if self._in_table_body():  # a table directly inside another ends that one
                self._close_through(table)
            elif self._top("p") > self._last(self._boundaries):
                self._close_through(self._top("p"))
            if len(self._stack) < MAX_DEPTH:
                self._emit_start(tag, _kept_attributes(tag, attrs))
            return
        if table < 0 or len(self._stack) + 2 > MAX_DEPTH:
            return
        below_rows = table + 1  # where the table's rows are, past its open row group if any
        if below_rows < len(self._stack) and self._stack[below_rows] in _ROW_GROUPS:
            below_rows += 1
        if tag in _ROW_GROUPS or tag == "caption":
            self._close_through(table + 1)
        elif tag == "tr":
            self._close_through(below_rows)
        elif below_rows < len(self._stack) and self._stack[below_rows] == "tr":
            self._close_through(below_rows + 1)  # a cell closes the open one, in its row
        else:
            self._close_through(below_rows)
            self._emit_start("tr", {})
        self._emit_start(tag, _kept_attributes(tag, attrs))

    def _close_list_item(self, names: tuple[str, ...]) -> None:
        """A new list item closes the open one, unless a block other than address, div or p
        lies between."""
        if not any(self._open[name] for name in names):
            return
        for index in range(len(self._stack) - 1, -1, -1):
            element = self._stack[index]
            if element in names:
                self._close_through(index)
                return
            if element in _SPECIAL and element not in ("address", "div", "p"):
                return

    def _in_table_body(self) -> bool:
        """Whether the innermost table is open outside any of its cells and captions."""
        table = self._top("table")
        return table >= 0 and self._last(self._boundaries) == table

    def _emit_start(self, tag: str, attributes: dict[str, str]) -> None:
        rendered = "".join(f' {name}="{html_escaping.escape(value)}"' for name, value in attributes.items())
        self._out.append(f"<{tag}{rendered}>")
        if tag in _VOID:
            return
        index = len(self._stack)
        self._stack.append(tag)
        self._open[tag].append(index)
        if tag in _SPECIAL:
            self._special.append(index)
        if tag in _SCOPE_BOUNDARIES:
            self._boundaries.append(index)
        if tag in _FORMATTING:
            self._formatting += 1

    def _close_through(self, index: int) -> None:
        """Close the open element at `index` and all inside it."""
        while len(self._stack) > max(index, 0):
            tag = self._stack.pop()
            self._out.append(f"</{tag}>")
            self._open[tag].pop()
            if tag in _SPECIAL:
                self._special.pop()
            if tag in _SCOPE_BOUNDARIES:
                self._boundaries.pop()
            if tag in _FORMATTING:
                self._formatting -= 1

    def _top(self, tag: str) -> int:
        """The index of the innermost open `tag`, or -1."""
        return self._last(self._open[tag])

    @staticmethod
    def _last(indices: list[int]) -> int:
        return indices[-1] if indices else -1


def _kept_attributes(tag: str, attrs: list[tuple[str, str | None]]) -> dict[str, str]:
    """The allowed attributes with a safe value; of a repeated one, the first (as in HTML)."""
    allowed = _ATTRIBUTES.get(tag, frozenset()) | _GENERIC_ATTRIBUTES
    kept: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in attrs:
        if name in allowed and name not in seen and value is not None:
            checked = _attribute_value(tag, name, value)
            if checked is not None:
                kept[name] = checked
        seen.add(name)
    return kept
