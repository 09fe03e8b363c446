"""The golden mail fixtures (tests/support/emails.py), and the Textract stand-in reading PDFs.

The fixtures are raw messages as SES's S3 action stores them; the inbound-mail Lambda parses them
with the standard library's `email` package and policy.default, as these tests do.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import functools
import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from email import errors
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any, cast

import pypdfium2
import pytest
from PIL import Image

from local.extraction import extract_receipt
from local.standins import analyze_expense
from tests.support import emails

NAMES = [
    "pdf_invoice",
    "html_ride_receipt",
    "inline_images",
    "forwarded",
    "spam_verdict",
    "oversized",
    "zip_attachment",
    "malformed_mime",
]
ON_DISK = [name for name in NAMES if name not in emails.SHA256_ONLY]
WELL_FORMED = [name for name in NAMES if name != "malformed_mime"]
SES_HEADERS = [
    "Return-Path",
    "Received",
    "X-SES-Spam-Verdict",
    "X-SES-Virus-Verdict",
    "Received-SPF",
    "Authentication-Results",
    "X-SES-RECEIPT",
    "X-SES-DKIM-SIGNATURE",
]
OWN_HEADERS = ["From", "To", "Subject", "Date", "Message-ID"]
RECEIVED = re.compile(
    r"from (?P<host>\S+) \((?P=host) \[(?P<ip>[\d.]+)\]\)"
    r" by inbound-smtp\.eu-west-1\.amazonaws\.com with SMTP id (?P<id>[a-z0-9]{40})"
    r" for (?P<recipient>\S+); (?P<date>.+) \(UTC\)"
)
BARE_LINE_END = re.compile(rb"\r(?!\n)|(?<!\r)\n")


@functools.cache
def built(name: str) -> bytes:
    return emails.FIXTURES[name]()


def parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(data, policy=email.policy.default))


def header_section(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def pdf_lines(data: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(data)
    try:
        text = "\n".join(document[index].get_textpage().get_text_range() for index in range(len(document)))
    finally:
        document.close()
    return text.splitlines()


def attachments(message: EmailMessage) -> list[EmailMessage]:
    return cast(list[EmailMessage], list(message.iter_attachments()))


def defect_types(part: Any) -> set[type[errors.MessageDefect]]:
    return {type(defect) for defect in part.defects}


def summary(response: dict[str, Any]) -> dict[str, str]:
    fields = response["ExpenseDocuments"][0]["SummaryFields"]
    return {field["Type"]["Text"]: field["ValueDetection"]["Text"] for field in fields}


# --- The golden files ---------------------------------------------------------------------


def test_the_fixtures_are_the_eight_cases():
    assert list(emails.FIXTURES) == NAMES


@pytest.mark.parametrize("name", ON_DISK)
def test_each_builder_reproduces_its_golden_file_byte_for_byte(name):
    golden = emails.golden_path(name)

    assert golden.name == f"{name}.eml"
    assert built(name) == golden.read_bytes(), f"regenerate with: .venv/bin/python -m tests.support.emails ({name})"


def test_the_oversized_message_is_checked_by_its_sha256_not_stored():
    golden = emails.golden_path("oversized")
    data = built("oversized")

    assert golden.name == "oversized.sha256" and not (emails.DATA_DIR / "oversized.eml").exists()
    assert golden.read_text(encoding="ascii") == emails.sha256_line("oversized", data)
    assert len(data) > emails.OVERSIZE_LIMIT == 10 * 1024 * 1024


def test_the_golden_directory_holds_the_fixtures_and_nothing_stale():
    on_disk = {path.name for path in emails.DATA_DIR.iterdir() if not path.name.startswith(".")}

    assert on_disk == {emails.golden_path(name).name for name in NAMES}


def test_regenerating_writes_the_same_files(tmp_path):
    written = emails.write_goldens(tmp_path)

    for path in written:
        assert path.read_bytes() == emails.golden_path(path.stem).read_bytes()


# --- Every fixture ------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_ends_its_lines_in_crlf_throughout(name):
    data = built(name)

    assert BARE_LINE_END.search(data) is None
    assert data.endswith(b"\r\n")
    assert all(line.endswith(b"\r\n") for line in io.BytesIO(header_section(data) + b"\r\n"))


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_parses_with_policy_default(name):
    message = parse(built(name))

    assert message["From"] and message["To"] and message["Message-ID"]
    if name in WELL_FORMED:
        assert [part.defects for part in message.walk() if part.defects] == []
        assert [key for key in message if message[key].defects] == []


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_starts_with_the_headers_ses_prepends(name):
    data = built(name)
    message = parse(data)
    own = dict(zip(OWN_HEADERS, (str(message[key]) for key in OWN_HEADERS), strict=True))

    assert list(message.keys())[: len(SES_HEADERS)] == SES_HEADERS
    assert list(message.keys())[len(SES_HEADERS) : len(SES_HEADERS) + len(OWN_HEADERS)] == OWN_HEADERS
    sender = message["From"].addresses[0]
    recipient = message["To"].addresses[0].addr_spec
    domain = sender.domain
    assert message["Return-Path"] == f"<{sender.addr_spec}>"
    received = RECEIVED.fullmatch(str(message["Received"]))
    assert received, message["Received"]
    assert received["recipient"] == recipient == emails.DEFAULT_RECIPIENT
    assert received["id"] == emails.ses_message_id(own["Message-ID"])
    arrived = parsedate_to_datetime(received["date"])
    assert arrived.utcoffset() == dt.timedelta(0)
    assert dt.timedelta(0) < arrived - parsedate_to_datetime(own["Date"]) < dt.timedelta(seconds=10)
    assert message["X-SES-Spam-Verdict"] == ("FAIL" if name == "spam_verdict" else "PASS")
    assert message["X-SES-Virus-Verdict"] == "PASS"
    ip = received["ip"]
    spf = (
        f"(spfCheck: domain of {domain} designates {ip} as permitted sender) client-ip={ip};"
        f" envelope-from={sender.addr_spec}; helo={received['host']};"
    )
    assert message["Received-SPF"] == f"pass {spf}"
    assert message["Authentication-Results"] == (
        f"amazonses.com; spf=pass {spf} dkim=pass header.i=@{domain}; dmarc=pass header.from={domain};"
    )
    assert re.fullmatch(r"AEFBQUFBQUFBQUFB[A-Za-z0-9+/]+={0,2}", str(message["X-SES-RECEIPT"]))
    assert str(message["X-SES-DKIM-SIGNATURE"]).startswith("a=rsa-sha256; q=dns/txt; b=")
    assert own["Message-ID"].startswith("<") and own["Message-ID"].endswith(">")
    assert sender.display_name


def test_the_ses_message_ids_differ_between_fixtures():
    ids = {RECEIVED.fullmatch(str(parse(built(name))["Received"]))["id"] for name in NAMES}  # type: ignore[index]

    assert len(ids) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_headers_are_ascii_with_non_ascii_text_in_rfc_2047_encoded_words(name):
    assert header_section(built(name)).isascii()


@pytest.mark.parametrize(
    ("name", "header", "encoded", "decoded"),
    [
        ("pdf_invoice", "Subject", "=?utf-8?", "Your Acme Store invoice – order 1042"),
        ("forwarded", "From", "=?utf-8?", "Μαρία Παπαδοπούλου <maria.papadopoulou@mail.example>"),
        ("forwarded", "Subject", "=?utf-8?", "Fwd: Your receipt from Acme Store – order 1045"),
    ],
)
def test_non_ascii_headers_decode_back(name, header, encoded, decoded):
    raw = re.search(rb"^" + header.encode() + rb": (.*(?:\r\n[ \t].*)*)", header_section(built(name)), re.MULTILINE)

    assert raw and encoded in raw.group(1).decode("ascii")
    assert str(parse(built(name))[header]) == decoded


def test_builders_take_the_recipient_sender_and_message_id_and_can_leave_out_ses_headers():
    recipient, sender = "r-other@inbox.receiptvault.test", "Other Shop <billing@other-shop.example>"
    bare = emails.pdf_invoice(
        recipient=recipient, sender=sender, message_id="<custom-1@other-shop.example>", ses_headers=False
    )
    with_ses = emails.pdf_invoice(recipient=recipient, sender=sender)

    assert bare.startswith(b"From: Other Shop <billing@other-shop.example>\r\nTo: r-other@inbox.receiptvault.test\r\n")
    assert parse(bare)["Message-ID"] == "<custom-1@other-shop.example>"
    message = parse(with_ses)
    assert message["Return-Path"] == "<billing@other-shop.example>"
    assert " for r-other@inbox.receiptvault.test;" in str(message["Received"])
    assert "header.from=other-shop.example;" in str(message["Authentication-Results"])
    for build in emails.FIXTURES.values():
        if build is not emails.oversized:
            assert not build(ses_headers=False).startswith(b"Return-Path:")  # type: ignore[call-arg]


def test_ses_headers_are_available_for_messages_a_test_builds_itself():
    own = EmailMessage(policy=email.policy.SMTP)
    own["From"], own["To"], own["Subject"] = "Shop <shop@shop.example>", emails.DEFAULT_RECIPIENT, "Receipt"
    own.set_content("TOTAL 9.99 EUR\n")
    head = emails.ses_headers(
        emails.DEFAULT_RECIPIENT, "Shop <shop@shop.example>", spam="GRAY", virus="FAIL", message_id="a" * 40
    )
    message = parse(head + own.as_bytes())

    assert BARE_LINE_END.search(head) is None and head.endswith(b"\r\n")
    assert list(message.keys())[:8] == SES_HEADERS
    assert message["X-SES-Spam-Verdict"] == "GRAY" and message["X-SES-Virus-Verdict"] == "FAIL"
    assert f"with SMTP id {'a' * 40} for {emails.DEFAULT_RECIPIENT};" in str(message["Received"])
    assert message.get_content() == "TOTAL 9.99 EUR\r\n"  # decoded text keeps the CRLF of the wire
    with pytest.raises(ValueError, match="verdict"):
        emails.ses_headers(emails.DEFAULT_RECIPIENT, "shop@shop.example", spam="pass")
    with pytest.raises(ValueError, match="40"):
        emails.ses_headers(emails.DEFAULT_RECIPIENT, "shop@shop.example", message_id="ABC")


# --- Each case ----------------------------------------------------------------------------


def test_pdf_invoice_is_a_text_body_and_a_pdf_a_rule_based_extractor_reads():
    message = parse(built("pdf_invoice"))
    body = message.get_body(preferencelist=("plain",))
    (invoice,) = attachments(message)

    assert message.get_content_type() == "multipart/mixed"
    assert body is not None and "invoice for order 1042 is attached" in body.get_content()
    assert invoice.get_content_type() == "application/pdf"
    assert invoice.get_filename() == "invoice-1042.pdf"
    assert invoice.get_param("name") == "invoice-1042.pdf"
    assert pdf_lines(invoice.get_content()) == list(emails.INVOICE_LINES)
    fields = extract_receipt("\n".join(pdf_lines(invoice.get_content())))
    assert (fields["merchant"], fields["date"], fields["total"], fields["currency"]) == (
        "Acme Store",
        "2026-11-14",
        "149.90",
        "EUR",
    )


def test_html_ride_receipt_is_a_single_quoted_printable_html_part():
    data = built("html_ride_receipt")
    message = parse(data)
    html = message.get_content()

    assert not message.is_multipart() and message.get_content_type() == "text/html"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert b"=E2=82=AC23.40" in data  # € encoded, not raw
    assert "<h2>Total €23.40</h2>" in html
    assert '<img src="https://cdn.swiftrides.example/email/logo-2x.png"' in html
    assert re.search(r'<img src="https://[^"]+\.gif" width="1" height="1"', html)
    assert "<style>" in html and "<script" in html
    assert emails.RIDE_TOTAL == "23.40"


def test_inline_images_are_a_related_part_referenced_by_cid():
    message = parse(built("inline_images"))
    alternative, *images = message.iter_parts()
    html = alternative.get_body(preferencelist=("html",))
    text = alternative.get_body(preferencelist=("plain",))

    assert message.get_content_type() == "multipart/related"
    assert message.get_param("type") == "multipart/alternative"
    assert alternative.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert text is not None and "TOTAL 54.30 EUR" in text.get_content()
    assert html is not None
    assert [image.get_content_type() for image in images] == ["image/png", "image/jpeg"]
    for image, pil_format in zip(images, ["PNG", "JPEG"], strict=True):
        cid = str(image["Content-ID"])
        assert image.get_content_disposition() == "inline"
        assert cid.startswith("<") and f'src="cid:{cid[1:-1]}"' in html.get_content()
        picture = Image.open(io.BytesIO(image.get_content()))
        picture.load()
        assert (picture.format, picture.size) == (pil_format, (16, 16))


def test_forwarded_holds_the_original_message_and_its_pdf():
    message = parse(built("forwarded"))
    forwarded_part = next(part for part in message.walk() if part.get_content_type() == "message/rfc822")
    original = forwarded_part.get_content()
    (receipt,) = attachments(original)

    assert str(message["From"]) == emails.DEFAULT_FORWARDER
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().endswith("-- \r\nΜαρία\r\n")
    assert forwarded_part.get_content_disposition() == "attachment"
    assert isinstance(original, EmailMessage)
    assert str(original["From"]) == emails.DEFAULT_SENDER and str(original["To"]) == emails.DEFAULT_FORWARDER
    assert "Return-Path" not in original  # SES's headers are on the outer message only
    assert receipt.get_content_type() == "application/pdf" and receipt.get_filename() == "receipt-1045.pdf"
    assert pdf_lines(receipt.get_content()) == list(emails.FORWARDED_LINES)
    pdfs = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1  # found by walking the whole tree, through the message/rfc822 part


def test_spam_verdict_fails_only_the_spam_check():
    message = parse(built("spam_verdict"))

    assert message["X-SES-Spam-Verdict"] == "FAIL" and message["X-SES-Virus-Verdict"] == "PASS"
    assert "TOTAL 50.00 EUR" in message.get_content()


def test_oversized_is_over_10_mib_with_a_generated_scan():
    data = built("oversized")
    (scan,) = attachments(parse(data))

    assert len(data) > 10 * 1024 * 1024
    assert scan.get_content_type() == "image/jpeg" and scan.get_filename() == "receipt-scan.jpg"
    content = scan.get_content()
    assert len(content) == emails.OVERSIZED_SCAN_BYTES and content.startswith(b"\xff\xd8\xff")


def test_zip_attachment_is_the_only_attachment_and_holds_the_receipt():
    message = parse(built("zip_attachment"))
    (archive_part,) = attachments(message)
    archive = zipfile.ZipFile(io.BytesIO(archive_part.get_content()))

    assert archive_part.get_content_type() == "application/zip"
    assert archive_part.get_filename() == "receipt.zip"
    assert archive.testzip() is None
    assert archive.namelist() == ["receipt-1047.pdf", "receipt-1047.csv"]
    assert "TOTAL 39.90 EUR" in pdf_lines(archive.read("receipt-1047.pdf"))


def test_malformed_mime_is_broken_four_ways_in_its_bytes():
    data = built("malformed_mime")
    head, body = data.split(b"\r\n\r\n", 1)
    delimiters = set(re.findall(rb"^--(\S+?)(?:--)?\r$", body, re.MULTILINE))

    assert f'boundary="{emails.MALFORMED_DECLARED_BOUNDARY}"'.encode() in head
    assert delimiters == {emails.MALFORMED_ACTUAL_BOUNDARY.encode()}  # the declared one is never used
    assert f"--{emails.MALFORMED_ACTUAL_BOUNDARY}--".encode() not in body  # no final boundary
    assert head.endswith(b"\r\n" + emails.MALFORMED_COLONLESS_HEADER.encode())
    assert b":" not in emails.MALFORMED_COLONLESS_HEADER.encode()
    assert f"Content-Transfer-Encoding: {emails.MALFORMED_BOGUS_CTE}\r\n".encode() in body


def test_malformed_mime_parses_with_its_defects_recorded():
    message = parse(built("malformed_mime"))

    assert message.get_content_type() == "multipart/mixed" and not message.is_multipart()
    assert {
        errors.MissingHeaderBodySeparatorDefect,  # the header line without a colon ends the headers
        errors.StartBoundaryNotFoundDefect,  # the declared boundary is not in the body
        errors.MultipartInvariantViolationDefect,  # multipart/mixed, yet no parts
    } <= defect_types(message)
    assert str(message["Subject"]) == "Receipt 1048"


def test_malformed_mime_with_its_boundary_repaired_shows_the_part_level_breakage():
    """What a lenient parser finds once it takes the delimiters the body really uses."""
    repaired = built("malformed_mime").replace(
        emails.MALFORMED_DECLARED_BOUNDARY.encode(), emails.MALFORMED_ACTUAL_BOUNDARY.encode()
    )
    message = parse(repaired)
    text, pdf = message.iter_parts()

    assert errors.CloseBoundaryNotFoundDefect in defect_types(message)
    assert "TOTAL 12.40 EUR" in text.get_content()
    assert pdf["Content-Transfer-Encoding"].cte == "x-acme-base64"  # not one the email package decodes
    assert pdf.get_content().startswith(b"JVBERi0")  # handed back undecoded: still base64 text
    assert pdf_lines(base64.b64decode(pdf.get_content()))[-1] == "TOTAL 12.40 EUR"


# --- text_pdf -----------------------------------------------------------------------------


def test_text_pdf_has_an_exact_xref_table():
    data = emails.text_pdf(["one", "two"], lines_per_page=1)
    start = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))  # type: ignore[union-attr]
    count = int(re.match(rb"xref\n0 (\d+)\n", data[start:]).group(1))  # type: ignore[union-attr]
    entries = data[start:].split(b"\n", 2)[2][: 20 * count]

    assert data.startswith(b"%PDF-1.4\n")
    assert entries[:20] == b"0000000000 65535 f \n"
    for number in range(1, count):
        offset = int(entries[20 * number : 20 * number + 10])
        assert data[offset:].startswith(b"%d 0 obj\n" % number)


def test_text_pdf_text_extracts_back_including_escapes_and_the_euro_sign():
    lines = ["Café (Mitte) \\ Kasse 2", "Grüner Tee 3,20 €", "TOTAL 3.20 EUR"]

    assert pdf_lines(emails.text_pdf(lines)) == lines


def test_text_pdf_splits_pages_and_is_deterministic():
    lines = [f"Line {number}" for number in range(1, 8)]
    data = emails.text_pdf(lines, lines_per_page=3)

    assert len(pypdfium2.PdfDocument(data)) == 3
    assert pdf_lines(data) == lines
    assert data == emails.text_pdf(lines, lines_per_page=3)
    assert len(pypdfium2.PdfDocument(emails.text_pdf([]))) == 1  # a blank page


# --- The Textract stand-in on PDFs ---------------------------------------------------------


def test_analyze_expense_reads_a_pdf_text_layer():
    response = analyze_expense(emails.text_pdf(list(emails.INVOICE_LINES)))
    fields = summary(response)

    assert fields["VENDOR_NAME"] == "Acme Store"
    assert fields["TOTAL"] == "149.90"
    assert fields["INVOICE_RECEIPT_DATE"] == "2026-11-14" and fields["TAX"] == "23.93"
    document = response["ExpenseDocuments"][0]
    assert [block["Text"] for block in document["Blocks"]] == list(emails.INVOICE_LINES)
    items = document["LineItemGroups"][0]["LineItems"]
    assert len(items) == 3


def test_analyze_expense_reads_the_invoice_attached_to_the_mail():
    (invoice,) = attachments(parse(built("pdf_invoice")))

    fields = summary(analyze_expense(invoice.get_content()))

    assert (fields["VENDOR_NAME"], fields["TOTAL"]) == ("Acme Store", "149.90")


def test_analyze_expense_reads_every_page_of_a_pdf():
    lines = ["ACME STORE", "Date 2026-11-14", "Lamp 20.00", "Shade 9.90", "TOTAL 29.90 EUR"]

    response = analyze_expense(emails.text_pdf(lines, lines_per_page=2))

    assert summary(response)["TOTAL"] == "29.90"  # on the third page
    assert [block["Text"] for block in response["ExpenseDocuments"][0]["Blocks"]] == lines


@pytest.mark.parametrize(
    "document",
    [
        b"%PDF-1.4\nnot a pdf at all",
        emails.text_pdf(list(emails.INVOICE_LINES))[:200],  # truncated
        b"%PDF-" + bytes(range(256)),
    ],
    ids=["garbage", "truncated", "binary"],
)
def test_a_corrupt_pdf_reads_as_a_blank_page(document):
    blank = analyze_expense(emails.text_pdf([]))

    assert analyze_expense(document) == blank
    assert blank["ExpenseDocuments"][0]["SummaryFields"] == []
    assert blank["ExpenseDocuments"][0]["Blocks"] == [] and blank["ExpenseDocuments"][0]["LineItemGroups"] == []


def test_analyze_expense_still_reads_text_and_ignores_images():
    assert summary(analyze_expense(b"CORNER SHOP\n02.01.2026\nTOTAL 3.20"))["TOTAL"] == "3.20"
    assert summary(analyze_expense(emails.RECEIPT_PHOTO_JPEG)) == {}


def test_analyze_expense_reads_pdfs_from_many_threads_at_once():
    """The stand-in server answers on a thread per connection; PDFium itself is not thread-safe."""
    documents = [emails.text_pdf(["ACME STORE", f"TOTAL {number}.00 EUR"]) for number in range(10, 50)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        totals = list(pool.map(lambda document: summary(analyze_expense(document))["TOTAL"], documents))

    assert totals == [f"{number}.00" for number in range(10, 50)]
