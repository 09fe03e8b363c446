"""A raw message as SES stores it, read as hostile input: what it says, and the receipts in it.

The standard library's `email` package with `policy.default` parses it; a malformed message
gives defects, not exceptions, and whatever parts can be read are used. Everything is bounded:
the parts walked, the depth of forwarded messages, each attachment's size, the receipts taken.

Which parts become receipts:
- each PDF or image attachment (JPEG, PNG, WebP, HEIC), its type checked by its first bytes, so a
  zip named invoice.pdf is refused; an image the HTML body shows inline (`cid:`) is part of
  that body, not a receipt of its own;
- with no such attachment, the HTML body: an HTML-only e-receipt. Its original is the sanitised
  HTML (inline images embedded as data URIs), and its visible text goes to the refinement.
A forwarded message (`message/rfc822`) is searched too, and its receipts carry the forwarded
message's sender, subject and date: the shop's, not the user's who forwarded it.

SES prepends its own headers (Received, X-SES-Spam-Verdict, X-SES-Virus-Verdict,
Authentication-Results) above the sender's: the first of each is SES's, so a sender's forged
copy further down is never read.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.utils import parseaddr, parsedate_to_datetime

from inbound_mail.html_receipt import sanitize_html
from receipt_vault.html_text import visible_text

# The receipt types, by what their first bytes say.
_SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("pdf", b"%PDF-", 0),
    ("jpg", b"\xff\xd8\xff", 0),
    ("png", b"\x89PNG\r\n\x1a\n", 0),
)
_DECLARED_EXTENSIONS = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
}
_FILENAME_EXTENSIONS = {"pdf": "pdf", "jpg": "jpg", "jpeg": "jpg", "png": "png", "webp": "webp", "heic": "heic"}
CONTENT_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                 "heic": "image/heic", "heif": "image/heif", "html": "text/html; charset=utf-8"}  # fmt: skip
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}
_AUTH_RESULT = re.compile(r"\b(spf|dkim|dmarc)=([a-z]+)", re.IGNORECASE)
_RECEIVED_FOR = re.compile(r"\bfor\s+<?([^\s<>;]+@[^\s<>;]+)>?\s*;", re.IGNORECASE)
_KNOWN_RESULTS = {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"}
_CID = re.compile(r"""cid:([^\s"'<>)]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    max_file_size: int  # one attachment
    max_parts: int = 100
    max_depth: int = 3  # forwarded messages inside forwarded messages
    max_receipts: int = 10
    max_inline_image_bytes: int = 2 * 1024 * 1024  # all the images one HTML body embeds


@dataclass(frozen=True)
class Origin:
    """Who sent a receipt's message, about what, when."""

    sender: str
    sender_name: str | None
    subject: str | None
    sent_at: dt.datetime | None


@dataclass(frozen=True)
class ReceiptDocument:
    extension: str  # of the stored original: pdf, jpg, png, webp, heic, heif or html
    data: bytes
    origin: Origin
    text: str | None = None  # an HTML receipt's visible text, for the refinement

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.extension]


@dataclass
class ParsedMessage:
    message_id: str  # the Message-ID, or a digest of the message when it has none
    spam_verdict: str
    virus_verdict: str
    authentication: dict[str, str]  # spf, dkim, dmarc: SES's results
    envelope_recipients: list[str]  # SES's Received header's, else To, Cc and the like
    origin: Origin  # the outer message's
    documents: list[ReceiptDocument] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why parts were not taken, for the logs
    defects: int = 0

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.message_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]

    @property
    def dropped_by_scan(self) -> str | None:
        """`spam` or `virus` when SES's scan failed the message."""
        if self.virus_verdict == "FAIL":
            return "virus"
        if self.spam_verdict == "FAIL":
            return "spam"
        return None


def parse_message(raw: bytes, limits: Limits) -> ParsedMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # noqa: S101 - policy.default makes EmailMessages
    parsed = ParsedMessage(
        message_id=_message_id(message, raw),
        spam_verdict=_header(message, "X-SES-Spam-Verdict").upper() or "PASS",
        virus_verdict=_header(message, "X-SES-Virus-Verdict").upper() or "PASS",
        authentication=_authentication(_header(message, "Authentication-Results")),
        envelope_recipients=_recipients(message),
        origin=_origin(message),
    )
    _Walker(parsed, limits).read(message, parsed.origin)
    return parsed


def _header(message: Message, name: str) -> str:
    """The first header of that name, as text; a header too broken to decode counts as absent."""
    try:
        value = message.get(name)
    except Exception:  # the header registry's parsers raise on some hostile encodings
        return ""
    return str(value).strip() if value is not None else ""


def _message_id(message: Message, raw: bytes) -> str:
    given = _header(message, "Message-ID").strip("<> \t")[:998]
    if given:
        return given.lower()
    # No Message-ID: the message's own bytes, below SES's headers (which differ per delivery).
    body_start = raw.find(b"\r\n\r\n")
    return "sha256:" + hashlib.sha256(raw[body_start if body_start >= 0 else 0 :]).hexdigest()


def _authentication(header: str) -> dict[str, str]:
    results = {"spf": "none", "dkim": "none", "dmarc": "none"}
    if header.split(";", 1)[0].strip().lower() != "amazonses.com":
        return results  # not SES's: whatever a sender wrote proves nothing
    for method, result in _AUTH_RESULT.findall(header):
        method, result = method.lower(), result.lower()
        if result in _KNOWN_RESULTS and results[method] == "none":
            results[method] = result
    return results


def _recipients(message: Message) -> list[str]:
    """SES's own Received header names the envelope recipient when there is one; with several it
    names none, and the To, Cc and Delivered-To headers are read instead."""
    received = message.get_all("Received") or []
    if received:
        match = _RECEIVED_FOR.search(str(received[0]))
        if match:
            return [match.group(1).lower()]
    values: list[str] = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        for value in message.get_all(name) or []:
            values.append(str(value))
    found: list[str] = []
    for _, address in email.utils.getaddresses(values):
        if "@" in address and address.lower() not in found:
            found.append(address.lower())
    return found[:50]


def _origin(message: Message) -> Origin:
    name, address = parseaddr(_header(message, "From"))
    sent_at: dt.datetime | None = None
    try:
        date = parsedate_to_datetime(_header(message, "Date"))
        sent_at = date if date.tzinfo else date.replace(tzinfo=dt.UTC)
        if not dt.datetime(1990, 1, 1, tzinfo=dt.UTC) <= sent_at <= dt.datetime(2200, 1, 1, tzinfo=dt.UTC):
            sent_at = None
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    subject = " ".join(_header(message, "Subject").split())[:300] or None
    return Origin(address.lower()[:254], " ".join(name.split())[:200] or None, subject, sent_at)


class _Walker:
    """One pass over the MIME tree, bounded in parts and depth."""

    def __init__(self, parsed: ParsedMessage, limits: Limits) -> None:
        self.parsed = parsed
        self.limits = limits
        self.parts = 0
        self.html: tuple[str, Origin] | None = None  # the first HTML body
        self.by_content_id: dict[str, tuple[str, bytes]] = {}  # images an HTML body may show
        self.inline: list[tuple[str, ReceiptDocument]] = []  # images with a Content-ID, not attached

    def read(self, message: EmailMessage, origin: Origin) -> None:
        self._walk(message, origin, 0)
        self.parsed.defects = len(message.defects)
        shown = {cid.lower() for cid in _CID.findall(self.html[0])} if self.html else set()
        # An inline image the HTML shows is part of it; one it does not show was sent as a picture.
        self.parsed.documents.extend(document for cid, document in self.inline if cid not in shown)
        if not self.parsed.documents and self.html is not None:
            self._add_html(*self.html)
        if len(self.parsed.documents) > self.limits.max_receipts:
            self.parsed.refused.append("too-many-receipts")
            del self.parsed.documents[self.limits.max_receipts :]

    def _walk(self, part: EmailMessage, origin: Origin, depth: int) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            if "too-many-parts" not in self.parsed.refused:
                self.parsed.refused.append("too-many-parts")
            return
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            if depth >= self.limits.max_depth:
                self.parsed.refused.append("nested-too-deeply")
                return
            for inner in part.iter_parts():
                if isinstance(inner, EmailMessage):
                    self._walk(inner, _origin(inner), depth + 1)
            return
        if part.is_multipart():
            for child in part.iter_parts():
                if isinstance(child, EmailMessage):
                    self._walk(child, origin, depth)
            return
        self._leaf(part, content_type, origin)

    def _leaf(self, part: EmailMessage, content_type: str, origin: Origin) -> None:
        disposition = part.get_content_disposition()
        if content_type == "text/html" and disposition != "attachment":
            if self.html is None:
                self.html = (_text_of(part), origin)
            return
        if content_type.startswith(("text/", "multipart/")):
            return  # a text body, or a container too broken to hold parts: not a receipt
        declared = _declared_extension(part, content_type)
        if declared is None:
            self.parsed.refused.append(f"unsupported-attachment:{content_type[:60]}")
            return
        data = _payload(part)
        if not data:
            return
        if len(data) > self.limits.max_file_size:
            self.parsed.refused.append("attachment-too-large")
            return
        sniffed = sniff_extension(data)
        if sniffed is None or _family(sniffed) != _family(declared):
            self.parsed.refused.append(f"mismatched-type:{declared}")
            return
        document = ReceiptDocument(sniffed, data, origin)
        content_id = _header(part, "Content-ID").strip("<>").lower()
        if content_id and disposition != "attachment" and sniffed != "pdf":
            self.by_content_id[content_id] = (CONTENT_TYPES[sniffed], data)
            self.inline.append((content_id, document))
            return
        self.parsed.documents.append(document)

    def _add_html(self, html: str, origin: Origin) -> None:
        embedded = _embed_inline_images(html, self.by_content_id, self.limits.max_inline_image_bytes)
        sanitised = sanitize_html(embedded)
        text = visible_text(sanitised)
        if not text.strip():
            self.parsed.refused.append("empty-html")
            return
        data = sanitised.encode("utf-8")
        if len(data) > self.limits.max_file_size:
            self.parsed.refused.append("html-too-large")
            return
        self.parsed.documents.append(ReceiptDocument("html", data, origin, text))


def _family(extension: str) -> str:
    """HEIC and HEIF are one family, as a declared type and the file's brand may differ."""
    return "heic" if extension in ("heic", "heif") else extension


def sniff_extension(data: bytes) -> str | None:
    for extension, signature, offset in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heic"
    return None


def _declared_extension(part: EmailMessage, content_type: str) -> str | None:
    """What the part says it is, by its type, or by its file name when the type says nothing
    (application/octet-stream, as some mailers send every attachment)."""
    if content_type in _DECLARED_EXTENSIONS:
        return _DECLARED_EXTENSIONS[content_type]
    if content_type == "application/octet-stream":
        filename = (part.get_filename() or "").lower()
        return _FILENAME_EXTENSIONS.get(filename.rsplit(".", 1)[-1]) if "." in filename else None
    return None


def _payload(part: EmailMessage) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a transfer encoding too broken even for the lenient decoder
        return b""
    return data if isinstance(data, bytes) else b""


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError, AssertionError):
        pass  # an unknown or lying charset
    return _payload(part).decode("utf-8", "replace")


def _embed_inline_images(html: str, images: dict[str, tuple[str, bytes]], budget: int) -> str:
    """`cid:` references as data URIs, so the stored HTML shows its images without anything
    remote; past the budget, or unknown, a reference is left for the sanitiser to remove."""
    used = 0

    def embed(match: re.Match[str]) -> str:
        nonlocal used
        found = images.get(match.group(1).lower())
        if found is None or used + len(found[1]) > budget:
            return match.group(0)
        used += len(found[1])
        return f"data:{found[0]};base64,{base64.b64encode(found[1]).decode('ascii')}"

    return _CID.sub(embed, html)
