"""The inbound-mail parser on hostile messages: bounded, never raising, reading only SES's headers."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

from inbound_mail.message_parser import Limits, parse_message
from tests.support import emails

LIMITS = Limits(max_file_size=10 * 1024 * 1024)
PDF = emails.text_pdf(["ACME STORE", "TOTAL 1.00 EUR"])


def message_with(parts: int, *, nested: int = 0) -> bytes:
    message = EmailMessage()
    message["From"] = "shop@acme.example"
    message["To"] = emails.DEFAULT_RECIPIENT
    message["Subject"] = "many"
    message["Message-ID"] = "<many@acme.example>"
    message.set_content("see attached")
    for n in range(parts):
        message.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"r{n}.pdf")
    for _ in range(nested):
        outer = EmailMessage()
        outer["From"] = "user@mail.example"
        outer["Message-ID"] = "<outer@mail.example>"
        outer.set_content("fwd")
        outer.add_attachment(message)
        message = outer
    return emails.ses_headers(emails.DEFAULT_RECIPIENT, "shop@acme.example") + message.as_bytes(policy=SMTP)


def test_parts_depth_and_receipts_are_bounded():
    many = parse_message(message_with(200), LIMITS)
    assert len(many.documents) == LIMITS.max_receipts and "too-many-parts" in many.refused
    deep = parse_message(message_with(1, nested=6), LIMITS)
    assert deep.documents == [] and "nested-too-deeply" in deep.refused
    forwarded_twice = parse_message(message_with(1, nested=2), LIMITS)
    assert len(forwarded_twice.documents) == 1
    assert forwarded_twice.documents[0].origin.sender == "shop@acme.example"


def test_the_envelope_recipient_is_ses_s_received_header_s_and_only_that():
    mine, theirs = "r-mine@inbox.example", "r-theirs@inbox.example"
    raw = emails.ses_headers(mine, emails.DEFAULT_SENDER) + emails.pdf_invoice(recipient=theirs, ses_headers=False)
    assert parse_message(raw, LIMITS).envelope_recipients == [mine]
    without_ses = emails.pdf_invoice(recipient=theirs, ses_headers=False)  # no Received: the To line
    assert parse_message(without_ses, LIMITS).envelope_recipients == [theirs]


def test_authentication_results_count_only_when_they_are_ses_s():
    body = emails.pdf_invoice(ses_headers=False)
    forged = b"Authentication-Results: mx.evil.example; spf=pass; dkim=pass\r\n" + body
    assert parse_message(forged, LIMITS).authentication == {"spf": "none", "dkim": "none", "dmarc": "none"}
    real = parse_message(emails.pdf_invoice(), LIMITS)
    assert real.authentication == {"spf": "pass", "dkim": "pass", "dmarc": "pass"}


def test_a_message_without_a_message_id_is_the_same_message_under_other_ses_headers():
    body = emails.pdf_invoice(ses_headers=False).replace(b"Message-ID:", b"X-Old-Message-ID:")
    first = emails.ses_headers(emails.DEFAULT_RECIPIENT, emails.DEFAULT_SENDER, message_id="a" * 40) + body
    second = emails.ses_headers(emails.DEFAULT_RECIPIENT, emails.DEFAULT_SENDER, message_id="b" * 40) + body
    assert parse_message(first, LIMITS).digest != ""
    assert parse_message(first, LIMITS).digest == parse_message(second, LIMITS).digest


def test_dates_out_of_any_calendar_and_broken_headers_are_left_out_not_raised():
    raw = emails.pdf_invoice().replace(b"Date: ", b"Date: Fri, 31 Dec 9999 23:59:59 +0000\r\nX-Old-Date: ")
    parsed = parse_message(raw, LIMITS)
    assert parsed.origin.sent_at is None and len(parsed.documents) == 1
    garbage = parse_message(b"\x00\xff\xfe garbage \r\n\r\n\x00", LIMITS)
    assert garbage.documents == [] and garbage.envelope_recipients == []


def test_every_golden_fixture_parses_without_raising():
    for name, build in emails.FIXTURES.items():
        parsed = parse_message(build(), LIMITS)
        assert isinstance(parsed.documents, list), name
