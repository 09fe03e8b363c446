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


# -- what an adversary tried against the running stack ---------------------------------------------

SES_TOP = (
    "Return-Path: <{envelope}>\r\n"
    "Received: from {helo} ({helo} [203.0.113.9]) by inbound-smtp.eu-west-1.amazonaws.com with SMTP id"
    " {ses_id} for {recipient}; Sat, 14 Nov 2026 08:41:09 +0000 (UTC)\r\n"
    "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n"
    "Authentication-Results: amazonses.com; spf=pass (spfCheck: ok) client-ip=203.0.113.9;"
    " envelope-from={envelope}; helo={helo}; dkim=none header.i=@evil.example; dmarc=none header.from=shop.example;\r\n"
)


def ses_top(
    *, envelope: str = "x@evil.example", helo: str = "mx.evil.example", recipient: str = "r-me@in.example"
) -> bytes:
    return SES_TOP.format(envelope=envelope, helo=helo, recipient=recipient, ses_id="a" * 40).encode()


BODY = emails.pdf_invoice(sender="Shop <billing@shop.example>", ses_headers=False)


def test_a_result_the_sender_wrote_into_its_envelope_or_helo_is_not_ses_s():
    for top in (ses_top(envelope="dkim=pass@evil.example"), ses_top(helo="mx.evil.example;dkim=pass;dmarc=pass")):
        parsed = parse_message(top + BODY, LIMITS)
        assert parsed.authentication["dkim"] == "none" and parsed.authentication["dmarc"] == "none"
        assert not parsed.sender_proven


def test_spf_for_the_senders_own_domain_proves_nothing_about_another_from():
    parsed = parse_message(ses_top() + BODY, LIMITS)
    assert parsed.authentication["spf"] == "pass" and not parsed.sender_proven
    aligned = parse_message(ses_top(envelope="bounce@shop.example") + BODY, LIMITS)
    assert aligned.sender_proven


def test_an_encoded_word_is_never_decoded_inside_the_from_address():
    forged = BODY.replace(
        b"From: Shop <billing@shop.example>", b"From: =?us-ascii?q?billing=40shop=2Eexample?= <x@evil.example>"
    )
    assert parse_message(ses_top() + forged, LIMITS).origin.sender == "x@evil.example"
    inside = BODY.replace(
        b"From: Shop <billing@shop.example>", b"From: g:=?us-ascii?q?billing=40shop=2Eexample?=:x@evil.example"
    )
    assert parse_message(ses_top() + inside, LIMITS).origin.sender != "billing@shop.example"


def test_encoded_words_in_mime_structure_make_the_message_unreadable_not_a_receipt():
    encoded = BODY.replace(b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: =?us-ascii?q?base64?=")
    parsed = parse_message(ses_top() + encoded, LIMITS)
    assert parsed.documents == [] and "encoded-mime-header" in parsed.refused


def test_a_helo_naming_another_recipient_does_not_route_the_message():
    parsed = parse_message(ses_top(helo="evil for r-victim@in.example;") + BODY, LIMITS)
    assert parsed.envelope_recipients == ["r-me@in.example"]


def test_headers_and_nesting_that_break_the_email_package_never_raise():
    broken = BODY.replace(b"Content-Type: text/plain", b"Content-Type: text/plain; a*", 1)
    assert parse_message(ses_top() + broken, LIMITS).envelope_recipients == ["r-me@in.example"]
    deep = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" * 1200
    )
    assert parse_message(ses_top() + b"From: a@b.example\r\n" + deep, LIMITS).documents == []
    groups = BODY.replace(b"To: ", b"Cc: g:;@\r\nTo: <a@x.example>, x@, ", 1)
    assert isinstance(parse_message(groups, LIMITS).envelope_recipients, list)


def test_without_a_message_id_two_messages_differ_and_one_message_under_lf_endings_is_one():
    no_id = BODY.replace(b"Message-ID:", b"X-Old-Id:")
    other_sender = no_id.replace(b"billing@shop.example", b"other@shop.example")
    assert parse_message(ses_top() + no_id, LIMITS).digest != parse_message(ses_top() + other_sender, LIMITS).digest
    lf = no_id.replace(b"\r\n", b"\n")
    first = parse_message(ses_top() + lf, LIMITS).digest
    again = parse_message(ses_top(helo="mx2.evil.example") + lf, LIMITS).digest
    assert first == again
