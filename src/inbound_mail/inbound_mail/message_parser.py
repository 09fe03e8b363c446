"""A raw message as SES stores it, read as hostile input: what it says, and the receipts in it.

The standard library's `email` package with `policy.default` parses it; a malformed message
gives defects, not exceptions, and whatever parts can be read are used. Everything is bounded:
the parts walked, the depth of forwarded messages, each attachment's size, the receipts taken.

Which parts become receipts:
- each PDF or image attachment (JPEG, PNG, WebP, HEIC), its type checked by its first bytes, so a
  zip named invoice.pdf is refused, and an image is decoded once at a small scale (the imaging
  layer), so a corrupt one never becomes a receipt without an image; an image the HTML body
  shows inline (`cid:`) is part of that body, not a receipt of its own;
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
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import parseaddr, parsedate_to_datetime

from inbound_mail.html_receipt import sanitize_html
from receipt_imaging import UnusableImageError, upright_dhash
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
_AUTH_RESULT = re.compile(r"(spf|dkim|dmarc)=([a-z]+)\b", re.IGNORECASE)
_RECEIVED_FOR = re.compile(r"\bfor\s+<?([^\s<>;]+@[^\s<>;]+)>?\s*;", re.IGNORECASE)
_KNOWN_RESULTS = {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"}
_CID = re.compile(r"""cid:([^\s"'<>)]+)""", re.IGNORECASE)


MAX_NESTING = 30  # multiparts and messages inside one another, far beyond any real e-mail
_STRUCTURAL_HEADERS = ("content-type", "content-transfer-encoding", "content-disposition")


class UnreadableStructureError(Exception):
    """A message whose MIME structure is not to be trusted: it holds no receipt."""


def _encoded_structure(part: Message) -> bool:
    return any(key.lower() in _STRUCTURAL_HEADERS and "=?" in str(value) for key, value in part.raw_items())


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
    sender_proven: bool = False  # the outer From is authenticated and aligned (_aligned)
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
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
    except Exception:  # a header the policy's parsers choke on (IndexError, RecursionError, ...)
        try:
            return _unreadable(email.message_from_bytes(raw, policy=policy.compat32), raw)
        except Exception:
            return _unreadable(email.message_from_bytes(b"", policy=policy.compat32), raw)
    return _parse(message, raw, limits)


def _unreadable(message: Message, raw: bytes) -> ParsedMessage:
    """A message whose structure cannot be read: who it was for, no receipt."""
    return ParsedMessage(
        message_id=_message_id(message, raw),
        spam_verdict=_header(message, "X-SES-Spam-Verdict").upper() or "PASS",
        virus_verdict=_header(message, "X-SES-Virus-Verdict").upper() or "PASS",
        authentication=_authentication(_header(message, "Authentication-Results")),
        envelope_recipients=_recipients(message),
        origin=_origin(message),
        refused=["unreadable-structure"],
    )


def _parse(message: EmailMessage, raw: bytes, limits: Limits) -> ParsedMessage:
    parsed = ParsedMessage(
        message_id=_message_id(message, raw),
        spam_verdict=_header(message, "X-SES-Spam-Verdict").upper() or "PASS",
        virus_verdict=_header(message, "X-SES-Virus-Verdict").upper() or "PASS",
        authentication=_authentication(_header(message, "Authentication-Results")),
        envelope_recipients=_recipients(message),
        origin=_origin(message),
    )
    parsed.sender_proven = _aligned(message, parsed.authentication, parsed.origin.sender)
    try:
        _Walker(parsed, limits).read(message, parsed.origin)
    except UnreadableStructureError as refusal:
        parsed.documents.clear()
        parsed.refused.append(str(refusal))
    except Exception:  # a structure the email package cannot walk: no receipt, never a crash
        parsed.documents.clear()
        parsed.refused.append("unreadable-structure")
    return parsed


def _header(message: Message, name: str) -> str:
    """The first header of that name, decoded (RFC 2047), one line; "" when absent."""
    values = _raw_headers(message, name)
    return _decoded(values[0]) if values else ""


def _raw_headers(message: Message, name: str) -> list[str]:
    """Every header of that name as it came: the header registry's parsers are never run, as
    hostile addresses and groups make them raise (IndexError, AttributeError, ...)."""
    wanted = name.lower()
    return [str(value) for key, value in message.raw_items() if key.lower() == wanted]


def _decoded(raw: str) -> str:
    unfolded = " ".join(raw.split())
    try:
        return " ".join(str(make_header(decode_header(unfolded))).split())
    except Exception:  # an encoded word of an unknown charset, broken base64, ...
        return unfolded


def _message_id(message: Message, raw: bytes) -> str:
    given = _header(message, "Message-ID").strip("<> \t")[:998]
    if given:
        return given.lower()
    # No Message-ID: what the sender wrote (From, To, Subject, Date, the body), line endings
    # normalised; never SES's headers, which differ per delivery.
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Subject", "Date"):
        digest.update(f"{name}:{'|'.join(_raw_headers(message, name))}\n".encode("utf-8", "surrogateescape"))
    body = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    digest.update(body[1].replace(b"\r\n", b"\n") if len(body) > 1 else b"")
    return "sha256:" + digest.hexdigest()


def _authentication(header: str) -> dict[str, str]:
    """SES's results, each from the segment that starts with it. The header also quotes what the
    sender chose (envelope-from, helo), which may read `dkim=pass`: SES writes spf first, then
    those, then dkim and dmarc, so spf's is the first segment of its name and the others' the last."""
    results = {"spf": "none", "dkim": "none", "dmarc": "none"}
    segments = [segment.strip() for segment in header.split(";")]
    if not segments or segments[0].lower() != "amazonses.com":
        return results  # not SES's: whatever a sender wrote proves nothing
    found: dict[str, list[str]] = {"spf": [], "dkim": [], "dmarc": []}
    for segment in segments[1:]:
        match = _AUTH_RESULT.match(segment)
        if match:
            found[match.group(1).lower()].append(match.group(2).lower())
    for method, values in found.items():
        value = (values[0] if method == "spf" else values[-1]) if values else "none"
        results[method] = value if value in _KNOWN_RESULTS else "none"
    return results


def _aligned(message: Message, authentication: dict[str, str], sender: str) -> bool:
    """Whether the From address is proven: DMARC passed, or SPF passed for the From's own domain
    (SES's Return-Path is the envelope sender). SPF passing for another domain proves nothing
    about the From line."""
    if authentication["dmarc"] == "pass":
        return True
    return_paths = _raw_headers(message, "Return-Path")
    envelope_sender = parseaddr(return_paths[0])[1].lower() if return_paths else ""
    domain = sender.rpartition("@")[2]
    return bool(domain) and authentication["spf"] == "pass" and envelope_sender.rpartition("@")[2] == domain


def _recipients(message: Message) -> list[str]:
    """SES's own Received header names the envelope recipient when there is one; with several it
    names none, and the To, Cc and Delivered-To headers are read instead."""
    received = _raw_headers(message, "Received")
    if received:
        # The last `for`: SES's own, after the HELO name the sender chose (which may hold one).
        matches = _RECEIVED_FOR.findall(received[0])
        if matches:
            return [matches[-1].lower()]
    values: list[str] = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        values.extend(_decoded(value) for value in _raw_headers(message, name))
    found: list[str] = []
    for _, address in email.utils.getaddresses(values):
        if "@" in address and address.lower() not in found:
            found.append(address.lower())
    return found[:50]


def _origin(message: Message) -> Origin:
    # The address as written: RFC 2047 forbids encoded words in it, so none is decoded there (a
    # From whose address decodes to an allowed sender's is an impostor's).
    raw_from = _raw_headers(message, "From")
    name, address = parseaddr(" ".join(raw_from[0].split()) if raw_from else "")
    name = _decoded(name)
    if "=?" in address or address.count("@") != 1:
        address = ""
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

    def _walk(self, part: EmailMessage, origin: Origin, depth: int, nesting: int = 0) -> None:
        if _encoded_structure(part):
            # RFC 2047 forbids encoded words here; the email package decodes them anyway, and
            # a scanner that does not (SES's) would read another structure: nothing is trusted.
            raise UnreadableStructureError("encoded-mime-header")
        if nesting > MAX_NESTING:
            raise UnreadableStructureError("nested-too-deeply")
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
                    self._walk(inner, _origin(inner), depth + 1, nesting + 1)
            return
        if part.is_multipart():
            for child in part.iter_parts():
                if isinstance(child, EmailMessage):
                    self._walk(child, origin, depth, nesting + 1)
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
        if sniffed != "pdf":  # PDFium is not thread-safe: a PDF is left to the thumbnail generator
            try:
                upright_dhash(data, sniffed)  # decoded once, small: the thumbnail would fail on it
            except UnusableImageError as unusable:
                self.parsed.refused.append(f"unusable:{unusable.reason}")
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
