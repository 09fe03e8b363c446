"""Forwarded e-receipts as Amazon SES stores them in S3: golden `.eml` fixtures, built by code.

Users forward e-receipts to a private address; SES receives the mail and its S3 action writes the
raw message, with SES's own headers prepended, to the bucket. Each builder here returns such a
message as bytes, CRLF line endings throughout, the way the inbound-mail Lambda reads it from S3.

Everything is fixed (dates, boundaries, Message-IDs, SES's message ids, attachments), so every
builder gives the same bytes on every run. `python -m tests.support.emails` writes the golden
files under tests/data/email/; tests/unit/test_email_fixtures.py checks the builders still give
them. The oversized message (over 10 MiB) is not committed: only its sha256 is.

SES's prepended headers follow what SES writes on received mail (Return-Path, Received from the
sending host by inbound-smtp.<region>.amazonaws.com with the SES message id, the spam and virus
verdicts, Received-SPF, Authentication-Results, X-SES-RECEIPT, X-SES-DKIM-SIGNATURE). The
X-SES-RECEIPT and signature values are made-up but well-formed: nothing here verifies them.
Host names, addresses and IPs are from the reserved example domains and documentation ranges.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import re
import sys
import zipfile
import zlib
from collections.abc import Callable, Sequence
from email import policy
from email.message import MIMEPart
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Final

DEFAULT_RECIPIENT: Final = "r-7k2m9q4xv3@inbox.receiptvault.test"
DEFAULT_SENDER: Final = "Acme Store <receipts@acme.example>"
RIDE_SENDER: Final = "Swift Rides <receipts@swiftrides.example>"
# The user forwarding a receipt from their own mailbox: a non-ASCII display name (RFC 2047).
DEFAULT_FORWARDER: Final = "Μαρία Παπαδοπούλου <maria.papadopoulou@mail.example>"

SES_REGION: Final = "eu-west-1"
SES_VERDICTS: Final = frozenset({"PASS", "FAIL", "GRAY", "PROCESSING_FAILED"})
DEFAULT_RECEIVED: Final = dt.datetime(2026, 11, 14, 8, 41, 9, tzinfo=dt.UTC)
OVERSIZE_LIMIT: Final = 10 * 1024 * 1024  # the largest message the inbound Lambda takes
DATA_DIR: Final = Path(__file__).resolve().parent.parent / "data" / "email"
SHA256_ONLY: Final = frozenset({"oversized"})  # too large to commit: only its sha256 is on disk

# The invoice inside pdf_invoice, as lines the rule-based extractor (local/extraction.py) reads:
# the merchant first, an ISO date, line items with the amount at the end, VAT, a TOTAL, EUR.
INVOICE_LINES: Final = (
    "ACME STORE",
    "Mariahilfer Strasse 12, 1070 Wien",
    "Invoice 1042",
    "Date 2026-11-14",
    "Wireless Mouse 24.90",
    "2 x USB-C Cable 25.00",
    "Mechanical Keyboard 100.00",
    "Subtotal 125.97",
    "VAT 19% 23.93",
    "TOTAL 149.90 EUR",
    "Paid by card",
    "Warranty 24 months",
)

_POLICY: Final = policy.SMTP  # policy.default with CRLF line endings, as mail travels
_CRLF: Final = "\r\n"
_CET: Final = dt.timezone(dt.timedelta(hours=1))
_EET: Final = dt.timezone(dt.timedelta(hours=2))
_SES_ID: Final = re.compile(r"[a-z0-9]{40}")


def ses_message_id(seed: str) -> str:
    """A 40-character SES message id (lower-case base32hex, as SES's are), derived from `seed`.

    SES uses it as the SMTP id in its Received header and as the S3 object key of the message."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").lower()[:40]


DEFAULT_SES_MESSAGE_ID: Final = ses_message_id("receipt-vault default")


def _address(mailbox: str) -> str:
    address = parseaddr(mailbox)[1]
    if "@" not in address:
        raise ValueError(f"not a mailbox: {mailbox!r}")
    return address


def _filler(seed: str, size: int) -> bytes:
    """`size` bytes that look random but are always the same for a seed."""
    return hashlib.shake_256(seed.encode("utf-8")).digest(size)


def _spf_reason(verdict: str, domain: str, ip: str) -> str:
    if verdict == "pass":
        return f"(spfCheck: domain of {domain} designates {ip} as permitted sender)"
    if verdict == "none":
        return f"(spfCheck: {ip} is neither permitted nor denied by domain of {domain})"
    return f"(spfCheck: domain of {domain} does not designate {ip} as permitted sender)"


def ses_headers(
    recipient: str,
    sender: str,
    *,
    spam: str = "PASS",
    virus: str = "PASS",
    message_id: str = DEFAULT_SES_MESSAGE_ID,
    received: dt.datetime = DEFAULT_RECEIVED,
    spf: str = "pass",
    dkim: str = "pass",
    dmarc: str = "pass",
) -> bytes:
    """The headers SES's S3 action prepends to a received message, CRLF-terminated.

    `message_id` is SES's message id (40 lower-case letters and digits, the S3 object key), not
    the message's own Message-ID. The sending host and its IP derive from the sender's domain.
    Prepend the result to a message's bytes: `ses_headers(...) + message.as_bytes(policy=SMTP)`.
    """
    if spam not in SES_VERDICTS or virus not in SES_VERDICTS:
        raise ValueError(f"SES verdicts are one of {sorted(SES_VERDICTS)}, not {spam!r}/{virus!r}")
    if not _SES_ID.fullmatch(message_id):
        raise ValueError(f"an SES message id is 40 lower-case letters and digits, not {message_id!r}")
    if received.utcoffset() != dt.timedelta(0):
        raise ValueError("SES stamps its Received header in UTC")
    envelope_from, envelope_to = _address(sender), _address(recipient)
    domain = envelope_from.rpartition("@")[2]
    ip = f"198.51.100.{1 + hashlib.sha256(domain.encode('utf-8')).digest()[0] % 254}"
    helo = f"smtp-out.{domain}"
    spf_text = f"{_spf_reason(spf, domain, ip)} client-ip={ip}; envelope-from={envelope_from}; helo={helo};"
    seed = f"{message_id} {envelope_to}"
    receipt = base64.b64encode(b"\x00" + b"A" * 11 + base64.b64encode(_filler(f"receipt {seed}", 240)))
    selector = base64.b32encode(_filler(f"selector {SES_REGION}", 20)).decode("ascii").lower()[:32]
    signature = base64.b64encode(_filler(f"signature {seed}", 128)).decode("ascii")
    body_hash = base64.b64encode(_filler(f"body {seed}", 32)).decode("ascii")
    lines = [
        f"Return-Path: <{envelope_from}>",
        f"Received: from {helo} ({helo} [{ip}])",
        f" by inbound-smtp.{SES_REGION}.amazonaws.com with SMTP id {message_id}",
        f" for {envelope_to};",
        f" {format_datetime(received)} (UTC)",
        f"X-SES-Spam-Verdict: {spam}",
        f"X-SES-Virus-Verdict: {virus}",
        f"Received-SPF: {spf} {spf_text}",
        "Authentication-Results: amazonses.com;",
        f" spf={spf} {spf_text}",
        f" dkim={dkim} header.i=@{domain};",
        f" dmarc={dmarc} header.from={domain};",
        f"X-SES-RECEIPT: {receipt.decode('ascii')}",
        f"X-SES-DKIM-SIGNATURE: a=rsa-sha256; q=dns/txt; b={signature}; c=relaxed/simple; s={selector};"
        f" d=amazonses.com; t={int(received.timestamp())}; v=1; bh={body_hash};"
        " h=From:To:Cc:Bcc:Subject:Date:Message-ID:MIME-Version:Content-Type:X-SES-RECEIPT;",
    ]
    return (_CRLF.join(lines) + _CRLF).encode("ascii")


# --- Documents ------------------------------------------------------------------------------


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (cp1252, which has €), escaped."""
    out = bytearray(b"(")
    for byte in text.encode("cp1252"):
        if byte in b"\\()":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    return bytes(out + b")")


def text_pdf(lines: Sequence[str], *, lines_per_page: int = 60) -> bytes:
    """A small valid PDF, written by hand: each line a line of Helvetica text, top down.

    One page per `lines_per_page` lines (always at least one page); the content streams are not
    compressed and the xref table is exact, so the bytes never vary and any reader extracts the
    lines back (characters outside cp1252 cannot be written). No dependency: pure bytes."""
    if lines_per_page < 1:
        raise ValueError("lines_per_page must be at least 1")
    pages = [list(lines[start : start + lines_per_page]) for start in range(0, len(lines), lines_per_page)] or [[]]
    font = 3 + 2 * len(pages)  # object numbers: 1 catalog, 2 pages, then page+content pairs, then the font
    kids = b" ".join(b"%d 0 R" % (3 + 2 * index) for index in range(len(pages)))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages))]
    for index, page_lines in enumerate(pages):
        shown = b"".join(_pdf_string(line) + b" Tj T*\n" for line in page_lines)  # T*: next line, 14 pt down
        content = b"BT\n/F1 11 Tf\n14 TL\n56 790 Td\n" + shown + b"ET\n"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >>"
            b" /Contents %d 0 R >>" % (font, 4 + 2 * index)
        )
        objects.append(b"<< /Length %d >>\nstream\n%sendstream" % (len(content), content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # the binary comment marks the file as binary
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)  # 20 bytes an entry
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def logo_png(size: int = 16) -> bytes:
    """A small RGB PNG written by hand: a dark square with a light border. Its zlib stream uses
    stored (uncompressed) deflate blocks, so the bytes do not depend on the zlib build."""
    light, dark = b"\xfa\xf5\xe6", b"\x1e\x3a\x5f"
    rows = b"".join(
        b"\x00" + b"".join(dark if 2 <= x < size - 2 and 2 <= y < size - 2 else light for x in range(size))
        for y in range(size)
    )
    blocks = bytearray(b"\x78\x01")  # zlib header: deflate, 32K window, no preset dictionary
    for start in range(0, len(rows), 65535):
        block = rows[start : start + 65535]
        final = 1 if start + 65535 >= len(rows) else 0
        blocks += bytes([final]) + len(block).to_bytes(2, "little") + (len(block) ^ 0xFFFF).to_bytes(2, "little")
        blocks += block
    blocks += zlib.adler32(rows).to_bytes(4, "big")
    header = size.to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"  # 8-bit RGB, no interlace
    chunks = _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", bytes(blocks)) + _png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


# A 16x16 baseline JPEG (a receipt-coloured square with two dark "text" bars), made once with
# Pillow and kept as bytes: an encoder's output varies with its version, these bytes do not.
RECEIPT_PHOTO_JPEG: Final = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5"
    "PTgyPC4zNDL/2wBDAQkJCQwLDBgNDRgyIRwhMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjL/wAAR"
    "CAAQABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEG"
    "E1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWG"
    "h4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEB"
    "AQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYk"
    "NOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0"
    "tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD0/VviF4W0PU5tO1HVPIu4dvmR/Z5WxlQw"
    "5VSOhHejSfiF4W1zU4dO07VPPu5t3lx/Z5VzhSx5ZQOgPejVtE8U3mpzT6d4w/s+0bb5dt/ZkUuzCgH5mOTk5P44rZ0m2vrPTIYNR1D+0Ltd"
    "3mXPkrFvyxI+VeBgYH4ZrHQs/9k="
)


def receipt_zip() -> bytes:
    """receipt.zip: the receipt PDF and a CSV of its lines, stored uncompressed with fixed
    timestamps and attributes, so the archive's bytes never vary."""
    lines = ["ACME STORE", "Receipt 1047", "Date 2026-11-17", "Desk Lamp 39.90", "TOTAL 39.90 EUR"]
    members = {
        "receipt-1047.pdf": text_pdf(lines),
        "receipt-1047.csv": b"description,amount,currency\r\nDesk Lamp,39.90,EUR\r\n",
    }
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 17, 8, 5, 0))
            info.create_system = 3  # Unix, whatever the machine (ZipInfo picks by platform)
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data)
    return output.getvalue()


# --- Messages -------------------------------------------------------------------------------


def _message(*, sender: str, recipient: str, subject: str, date: dt.datetime, message_id: str) -> MIMEPart:
    """A message's own headers in the order mail clients write them. A MIMEPart (not an
    EmailMessage), so that the parts it grows carry no MIME-Version of their own."""
    message = MIMEPart(policy=_POLICY)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["MIME-Version"] = "1.0"
    return message


def _attach(message: MIMEPart, data: bytes, mimetype: str, filename: str) -> None:
    """An attachment part, its Content-Type first and naming the file too, as mail clients do."""
    maintype, subtype = mimetype.split("/")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    *_, attachment = message.iter_parts()
    attachment.set_param("name", filename, replace=True)


def _finish(
    message: MIMEPart,
    *,
    stem: str,
    recipient: str,
    sender: str,
    received: dt.datetime,
    with_ses: bool,
    spam: str = "PASS",
) -> bytes:
    """Fixed boundaries (the email package would draw random ones), the message's bytes with
    CRLF line endings, and SES's headers on top."""
    for index, part in enumerate(part for part in message.walk() if part.get_content_maintype() == "multipart"):
        part.set_boundary(f"----=_Part_{stem}_{index}.{int(received.timestamp())}")
    data = message.as_bytes(policy=_POLICY)
    return _with_ses(data, str(message["Message-ID"]), recipient, sender, received, with_ses=with_ses, spam=spam)


def _with_ses(
    data: bytes,
    message_id: str,
    recipient: str,
    sender: str,
    received: dt.datetime,
    *,
    with_ses: bool,
    spam: str = "PASS",
) -> bytes:
    """SES's headers on top of a message; its SES id derives from its Message-ID."""
    if not with_ses:
        return data
    ses_id = ses_message_id(message_id)
    return ses_headers(recipient, sender, spam=spam, message_id=ses_id, received=received) + data


def pdf_invoice(
    *,
    recipient: str = DEFAULT_RECIPIENT,
    sender: str = DEFAULT_SENDER,
    message_id: str | None = None,
    ses_headers: bool = True,
) -> bytes:
    """multipart/mixed: a short text/plain body and invoice-1042.pdf (INVOICE_LINES)."""
    message = _message(
        sender=sender,
        recipient=recipient,
        subject="Your Acme Store invoice – order 1042",
        date=dt.datetime(2026, 11, 14, 9, 41, 7, tzinfo=_CET),
        message_id=message_id or "<1042.20261114084107@mail.acme.example>",
    )
    message.set_content(
        "Hello,\n\nthank you for shopping at Acme Store. Your invoice for order 1042 is attached.\n\nAcme Store\n"
    )
    _attach(message, text_pdf(INVOICE_LINES), "application/pdf", "invoice-1042.pdf")
    return _finish(
        message,
        stem="1042",
        recipient=recipient,
        sender=sender,
        received=dt.datetime(2026, 11, 14, 8, 41, 9, tzinfo=dt.UTC),
        with_ses=ses_headers,
    )


RIDE_TOTAL: Final = "23.40"
# A decoy total in the <script> and the <style>: text taken from them is not the receipt's.
_RIDE_HTML: Final = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Your trip receipt</title>
<style>
  body { margin: 0; font-family: "Helvetica Neue", Helvetica, Arial, sans-serif; color: #1f1f1f; }
  .fare td { padding: 6px 0; border-bottom: 1px solid #e2e2e2; }
  .fare .amount { text-align: right; }
  .fare .total td { font-weight: bold; border-bottom: 0; }
  .promo::after { content: "Total €0.00 on your next ride"; }
</style>
<script type="text/javascript">
  window.dataLayer = window.dataLayer || [];
  window.dataLayer.push({"event": "receipt_view", "upsell": "Total €99.00 a year with Swift Rides Plus"});
</script>
</head>
<body>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0">
<tr><td><img src="https://cdn.swiftrides.example/email/logo-2x.png" alt="Swift Rides" width="120" height="32"></td>
<td align="right">Saturday, 14 November 2026</td></tr>
</table>
<h1>Thanks for riding, Maria</h1>
<h2>Total €23.40</h2>
<table class="fare" role="presentation" width="100%" cellpadding="0" cellspacing="0">
<tr><td>Trip fare</td><td class="amount">€18.30</td></tr>
<tr><td>Airport surcharge</td><td class="amount">€3.50</td></tr>
<tr><td>Booking fee</td><td class="amount">€1.60</td></tr>
<tr class="total"><td>Total</td><td class="amount">€23.40</td></tr>
</table>
<p>Paid with Visa •••• 4242</p>
<p>22:21 Karl-Marx-Allee 34, 10178 Berlin → 22:48 Flughafen BER, Terminal 1, 12529 Schönefeld</p>
<p class="promo">Swift Rides GmbH · Friedrichstraße 68 · 10117 Berlin · USt-IdNr. DE123456789</p>
<img src="https://t.swiftrides.example/o/7f3c2a9e41d8.gif" width="1" height="1" alt="" style="display:none">
</body>
</html>
"""


def html_ride_receipt(
    *,
    recipient: str = DEFAULT_RECIPIENT,
    sender: str = RIDE_SENDER,
    message_id: str | None = None,
    ses_headers: bool = True,
) -> bytes:
    """A single text/html part, utf-8, quoted-printable, as ride-hailing receipts come: a fare
    table, "Total €23.40", a remote logo, a 1x1 tracking pixel, a <style> and a <script>."""
    message = _message(
        sender=sender,
        recipient=recipient,
        subject="Your Saturday evening trip with Swift Rides",
        date=dt.datetime(2026, 11, 14, 22, 49, 31, tzinfo=_CET),
        message_id=message_id or "<0100019a83c5e3f1-trip-7f3c2a9e41d8@mail.swiftrides.example>",
    )
    message.set_content(_RIDE_HTML, subtype="html", charset="utf-8", cte="quoted-printable")
    return _finish(
        message,
        stem="ride",
        recipient=recipient,
        sender=sender,
        received=dt.datetime(2026, 11, 14, 21, 49, 33, tzinfo=dt.UTC),
        with_ses=ses_headers,
    )


LOGO_CID: Final = "logo.1043@acme.example"
PHOTO_CID: Final = "receipt-photo.1043@acme.example"


def inline_images(
    *,
    recipient: str = DEFAULT_RECIPIENT,
    sender: str = DEFAULT_SENDER,
    message_id: str | None = None,
    ses_headers: bool = True,
) -> bytes:
    """multipart/related (type multipart/alternative): a text/plain and text/html alternative,
    the HTML showing two inline images by cid: a PNG logo and a JPEG photo of the receipt."""
    message = _message(
        sender=sender,
        recipient=recipient,
        subject="Your receipt from Acme Store – order 1043",
        date=dt.datetime(2026, 11, 15, 10, 3, 20, tzinfo=_CET),
        message_id=message_id or "<1043.20261115090320@mail.acme.example>",
    )
    body = MIMEPart(policy=_POLICY)
    body.set_content(
        "ACME STORE\nReceipt 1043, 15.11.2026\n\nDesk Organiser 19.90\nNotebook A5 (3 pack) 12.90\n"
        "Fountain Pen 21.50\n\nTOTAL 54.30 EUR\nPaid by card\n"
    )
    body.add_alternative(
        "<html><body>\n"
        f'<p><img src="cid:{LOGO_CID}" alt="Acme Store" width="16" height="16"> <b>ACME STORE</b></p>\n'
        "<p>Receipt 1043, 15.11.2026</p>\n"
        "<table>\n<tr><td>Desk Organiser</td><td>19.90</td></tr>\n"
        "<tr><td>Notebook A5 (3 pack)</td><td>12.90</td></tr>\n"
        "<tr><td>Fountain Pen</td><td>21.50</td></tr>\n"
        "<tr><td><b>TOTAL</b></td><td><b>54.30 EUR</b></td></tr>\n</table>\n"
        "<p>Paid by card</p>\n"
        f'<p><img src="cid:{PHOTO_CID}" alt="Your receipt" width="16" height="16"></p>\n'
        "</body></html>\n",
        subtype="html",
    )
    message["Content-Type"] = 'multipart/related; type="multipart/alternative"'
    message.attach(body)
    for data, subtype, filename, cid in (
        (logo_png(), "png", "acme-logo.png", LOGO_CID),
        (RECEIPT_PHOTO_JPEG, "jpeg", "receipt-1043.jpg", PHOTO_CID),
    ):
        image = MIMEPart(policy=_POLICY)
        image.set_content(
            data, maintype="image", subtype=subtype, disposition="inline", filename=filename, cid=f"<{cid}>"
        )
        image.set_param("name", filename, replace=True)
        message.attach(image)
    return _finish(
        message,
        stem="1043",
        recipient=recipient,
        sender=sender,
        received=dt.datetime(2026, 11, 15, 9, 3, 22, tzinfo=dt.UTC),
        with_ses=ses_headers,
    )


FORWARDED_LINES: Final = (
    "ACME STORE",
    "Receipt 1045",
    "Date 2026-11-13",
    "Noise-Cancelling Headphones 249.00",
    "Extended warranty 24 months 29.00",
    "TOTAL 278.00 EUR",
    "Paid by card",
)


def forwarded(
    *,
    recipient: str = DEFAULT_RECIPIENT,
    sender: str = DEFAULT_FORWARDER,
    message_id: str | None = None,
    ses_headers: bool = True,
    original_sender: str = DEFAULT_SENDER,
) -> bytes:
    """The user forwards a receipt as an attachment: their own text, then the original message
    (from `original_sender` to the user) as message/rfc822, itself holding receipt-1045.pdf."""
    original = _message(
        sender=original_sender,
        recipient=sender,
        subject="Your receipt from Acme Store – order 1045",
        date=dt.datetime(2026, 11, 13, 18, 20, 0, tzinfo=_CET),
        message_id="<1045.20261113172000@mail.acme.example>",
    )
    original.set_content("Hello,\n\nthank you for your order 1045. Your receipt is attached.\n\nAcme Store\n")
    _attach(original, text_pdf(FORWARDED_LINES), "application/pdf", "receipt-1045.pdf")

    message = _message(
        sender=sender,
        recipient=recipient,
        subject="Fwd: Your receipt from Acme Store – order 1045",
        date=dt.datetime(2026, 11, 15, 12, 30, 0, tzinfo=_EET),
        message_id=message_id or "<fwd-1045.20261115103000@mail.example>",
    )
    message.set_content(
        "Headphones for the vault, the warranty is in the receipt.\n\n-- \nΜαρία\n", cte="quoted-printable"
    )
    attached_name = "Your receipt from Acme Store - order 1045.eml"
    message.add_attachment(original, cte="7bit", filename=attached_name)
    *_, attachment = message.iter_parts()
    attachment.set_param("name", attached_name, replace=True)
    return _finish(
        message,
        stem="fwd",
        recipient=recipient,
        sender=sender,
        received=dt.datetime(2026, 11, 15, 10, 30, 2, tzinfo=dt.UTC),
        with_ses=ses_headers,
    )


def spam_verdict(
    *,
    recipient: str = DEFAULT_RECIPIENT,
    sender: str = DEFAULT_SENDER,
    message_id: str | None = None,
    ses_headers: bool = True,
) -> bytes:
    """A plain-text receipt that SES's spam check failed: X-SES-Spam-Verdict: FAIL."""
    message = _message(
        sender=sender,
        recipient=recipient,
        subject="Receipt 1046 from Acme Store",
        date=dt.datetime(2026, 11, 16, 3, 14, 15, tzinfo=dt.UTC),
        message_id=message_id or "<1046.20261116031415@mail.acme.example>",
    )
    message.set_content("ACME STORE\nReceipt 1046\nDate 2026-11-16\nGift Card 50.00\nTOTAL 50.00 EUR\nPaid by card\n")
    return _finish(
        message,
        stem="1046",
        recipient=recipient,
        sender=sender,
        received=dt.datetime(2026, 11, 16, 3, 14, 17, tzinfo=dt.UTC),
        with_ses=ses_headers,
        spam="FAIL",
    )


OVERSIZED_SCAN_BYTES: Final = 8 * 1024 * 1024  # base64 and line breaks take the message past 10 MiB


def oversized(
    *,
    recipient: str = DEFAULT_RECIPIENT,
    sender: str = DEFAULT_SENDER,
    message_id: str | None = None,
    ses_headers: bool = True,
) -> bytes:
    """A message over OVERSIZE_LIMIT (10 MiB): a text body and an 8 MiB receipt-scan.jpg (a JPEG
    start-of-image marker, then bytes from SHAKE-256: the same every run, not a decodable image)."""
    message = _message(
        sender=sender,
        recipient=recipient,
        subject="Scan of your receipt 1049",
        date=dt.datetime(2026, 11, 16, 11, 0, 0, tzinfo=_CET),
        message_id=message_id or "<1049.20261116100000@mail.acme.example>",
    )
    message.set_content("Hello,\n\nthe full-resolution scan of your receipt 1049 is attached.\n\nAcme Store\n")
    scan = b"\xff\xd8\xff\xe0" + _filler("receipt-vault oversized scan", OVERSIZED_SCAN_BYTES - 4)
    _attach(message, scan, "image/jpeg", "receipt-scan.jpg")
    return _finish(
        message,
        stem="1049",
        recipient=recipient,
        sender=sender,
        received=dt.datetime(2026, 11, 16, 10, 0, 4, tzinfo=dt.UTC),
        with_ses=ses_headers,
    )


def zip_attachment(
    *,
    recipient: str = DEFAULT_RECIPIENT,
    sender: str = DEFAULT_SENDER,
    message_id: str | None = None,
    ses_headers: bool = True,
) -> bytes:
    """A text body and one attachment, receipt.zip (application/zip), holding the receipt PDF."""
    message = _message(
        sender=sender,
        recipient=recipient,
        subject="Your documents for order 1047",
        date=dt.datetime(2026, 11, 17, 9, 5, 0, tzinfo=_CET),
        message_id=message_id or "<1047.20261117080500@mail.acme.example>",
    )
    message.set_content("Hello,\n\nyour receipt for order 1047 is attached as a ZIP archive.\n\nAcme Store\n")
    _attach(message, receipt_zip(), "application/zip", "receipt.zip")
    return _finish(
        message,
        stem="1047",
        recipient=recipient,
        sender=sender,
        received=dt.datetime(2026, 11, 17, 8, 5, 1, tzinfo=dt.UTC),
        with_ses=ses_headers,
    )


MALFORMED_DECLARED_BOUNDARY: Final = "----=_Part_1048_0.declared"
MALFORMED_ACTUAL_BOUNDARY: Final = "----=_Part_1048_0.actual"
MALFORMED_BOGUS_CTE: Final = "x-acme-base64 (v2)"
MALFORMED_COLONLESS_HEADER: Final = "X-Acme-Mailer Acme Receipts 2.1"


def malformed_mime(
    *,
    recipient: str = DEFAULT_RECIPIENT,
    sender: str = DEFAULT_SENDER,
    message_id: str | None = None,
    ses_headers: bool = True,
) -> bytes:
    """A broken message, written as bytes by hand (the email package would not write it):

    - multipart/mixed whose boundary parameter matches none of the body's delimiters;
    - a header line without a colon (the last before the blank line);
    - the PDF part's Content-Transfer-Encoding is a made-up one (its body is in fact base64);
    - the final boundary is never written: the message ends inside the last part.

    policy.default parses it without raising and records the defects on the message."""
    message_id = message_id or "<1048.20261117101500@mail.acme.example>"
    pdf = base64.b64encode(text_pdf(["ACME STORE", "Receipt 1048", "Date 2026-11-17", "TOTAL 12.40 EUR"]))
    pdf_lines = [pdf[start : start + 76].decode("ascii") for start in range(0, len(pdf), 76)]
    lines = [
        f"From: {sender}",
        f"To: {recipient}",
        "Subject: Receipt 1048",
        "Date: Tue, 17 Nov 2026 10:15:00 +0100",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{MALFORMED_DECLARED_BOUNDARY}"',
        MALFORMED_COLONLESS_HEADER,
        "",
        "This is a multi-part message in MIME format.",
        "",
        f"--{MALFORMED_ACTUAL_BOUNDARY}",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: 7bit",
        "",
        "ACME STORE",
        "Receipt 1048",
        "TOTAL 12.40 EUR",
        "",
        f"--{MALFORMED_ACTUAL_BOUNDARY}",
        'Content-Type: application/pdf; name="receipt-1048.pdf"',
        'Content-Disposition: attachment; filename="receipt-1048.pdf"',
        f"Content-Transfer-Encoding: {MALFORMED_BOGUS_CTE}",
        "",
        *pdf_lines,
    ]
    if any(not line.isascii() for line in lines):
        raise ValueError("the malformed fixture is written as ASCII: give an ASCII sender and recipient")
    data = (_CRLF.join(lines) + _CRLF).encode("ascii")
    received = dt.datetime(2026, 11, 17, 9, 15, 2, tzinfo=dt.UTC)
    return _with_ses(data, message_id, recipient, sender, received, with_ses=ses_headers)


FIXTURES: Final[dict[str, Callable[[], bytes]]] = {
    "pdf_invoice": pdf_invoice,
    "html_ride_receipt": html_ride_receipt,
    "inline_images": inline_images,
    "forwarded": forwarded,
    "spam_verdict": spam_verdict,
    "oversized": oversized,
    "zip_attachment": zip_attachment,
    "malformed_mime": malformed_mime,
}


def golden_path(name: str, directory: Path = DATA_DIR) -> Path:
    """Where a fixture's golden file lives: `<name>.eml`, or `<name>.sha256` for those too large."""
    return directory / (f"{name}.sha256" if name in SHA256_ONLY else f"{name}.eml")


def sha256_line(name: str, data: bytes) -> str:
    """The line of a `.sha256` golden file, in sha256sum's format."""
    return f"{hashlib.sha256(data).hexdigest()}  {name}.eml\n"


def write_goldens(directory: Path = DATA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in FIXTURES.items():
        path, data = golden_path(name, directory), build()
        if name in SHA256_ONLY:
            path.write_text(sha256_line(name, data), encoding="ascii", newline="\n")
        else:
            path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_goldens(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR):
        print(f"wrote {written_path} ({written_path.stat().st_size} bytes)")
