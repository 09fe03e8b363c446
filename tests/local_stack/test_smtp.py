"""The local SES receiving endpoint, driven over real SMTP with smtplib: what it accepts and
refuses, and the object it stores for each message, as SES's S3 action would."""

from __future__ import annotations

import email
import email.policy
import email.utils
import logging
import re
import smtplib
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest

from local.clock import utc_now
from local.smtp import EICAR, GTUBE, LocalSmtpServer, ReceivingRule

RULE = ReceivingRule(frozenset({"vault.example"}), "inbound/")
SENDER = "alice@sender.example"
SES_HEADERS = [
    "Return-Path",
    "Received",
    "X-SES-Spam-Verdict",
    "X-SES-Virus-Verdict",
    "Received-SPF",
    "Authentication-Results",
    "X-SES-RECEIPT",
]
# CRLF line endings, a line that smtplib dot-stuffs, and 8-bit text: all must come back unchanged.
MESSAGE = (
    "From: Alice <alice@sender.example>\r\n"
    "To: inbox@vault.example\r\n"
    "Subject: Receipt\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Απόδειξη 12,40 €\r\n"
    ".a line that starts with a dot\r\n"
).encode()

Stored = list[tuple[str, bytes]]


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[LocalSmtpServer, Stored]]]:
    """Starts servers on free ports, each storing into its own list; stops them afterwards."""
    servers: list[LocalSmtpServer] = []

    def start(rule: ReceivingRule = RULE, store: Callable[[str, bytes], None] | None = None):
        stored: Stored = []
        server = LocalSmtpServer(store or (lambda key, data: stored.append((key, data))), rule)
        server.start()
        servers.append(server)
        return server, stored

    yield start
    for server in servers:
        server.stop()


def client(server: LocalSmtpServer) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, local_hostname="client.test", timeout=10)


def send(server: LocalSmtpServer, recipients: list[str], message: bytes = MESSAGE) -> dict[str, tuple[int, bytes]]:
    with client(server) as smtp:
        return smtp.sendmail(SENDER, recipients, message)


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_message_is_stored_once_under_the_prefix_and_a_ses_like_message_id(serve):
    server, stored = serve()

    send(server, ["inbox@vault.example"])
    send(server, ["inbox@vault.example"])

    assert len(stored) == 2
    (first, data), (second, _) = stored
    assert first.startswith("inbound/")
    message_id = first.removeprefix("inbound/")
    assert re.fullmatch(r"[a-z0-9]{40}", message_id)
    assert second != first
    assert f"with SMTP id {message_id}" in parsed(data)["Received"]
    assert server.messages_stored == 2
    assert server.port != 0


def test_ses_headers_come_first_in_order_and_the_message_follows_byte_for_byte(serve):
    server, stored = serve()

    send(server, ["inbox@vault.example"])

    [(_, data)] = stored
    assert data.endswith(MESSAGE)
    headers = data[: -len(MESSAGE)]
    assert headers.endswith(b"\r\n")
    assert re.search(rb"(?<!\r)\n", headers) is None  # CRLF only
    message = parsed(data)
    assert not message.defects
    assert list(message.keys()) == [*SES_HEADERS, "From", "To", "Subject", "Content-Type", "Content-Transfer-Encoding"]
    assert message["Return-Path"] == f"<{SENDER}>"
    assert message["X-SES-Spam-Verdict"] == "PASS"
    assert message["X-SES-Virus-Verdict"] == "PASS"
    authentication = message["Authentication-Results"]
    assert authentication.startswith("amazonses.com;")
    spf = (
        "pass (spfCheck: domain of sender.example designates 127.0.0.1 as permitted sender)"
        f" client-ip=127.0.0.1; envelope-from={SENDER}; helo=client.test;"
    )
    assert message["Received-SPF"] == spf
    assert f" spf={spf} " in authentication
    assert " dkim=none header.i=@sender.example; " in authentication
    assert "dmarc=pass header.from=sender.example;" in authentication  # aligned with the envelope
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", message["X-SES-RECEIPT"])
    assert message.get_content() == "Απόδειξη 12,40 €\r\n.a line that starts with a dot\r\n"


def test_the_received_header_names_the_client_and_the_only_recipient(serve):
    server, stored = serve()

    send(server, ["inbox@vault.example"])

    received = parsed(stored[0][1])["Received"]
    assert received.startswith("from client.test (client.test [127.0.0.1]) by inbound-smtp.local.receiptvault ")
    assert " for inbox@vault.example; " in received
    assert received.endswith(" (UTC)")
    moment = email.utils.parsedate_to_datetime(received.rpartition("; ")[2].removesuffix(" (UTC)"))
    assert abs((utc_now() - moment).total_seconds()) < 60  # on the stack's clock


def test_two_recipients_share_one_object_and_the_received_header_names_neither(serve):
    server, stored = serve()

    refused = send(server, ["inbox@vault.example", "other@vault.example"])

    assert refused == {}
    [(_, data)] = stored
    received = parsed(data)["Received"]
    assert " for " not in received
    assert re.search(r"with SMTP id [a-z0-9]{40}; ", received)


def test_a_recipient_at_another_domain_is_refused_and_nothing_is_stored(serve):
    server, stored = serve()

    for address in ("someone@elsewhere.example", "inbox@mail.vault.example", "postmaster"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refusal:
            send(server, [address])
        [(code, text)] = refusal.value.recipients.values()
        assert code == 550
        assert text.startswith(b"5.7.1 ")

    assert stored == []
    assert server.messages_stored == 0


def test_with_one_recipient_refused_the_message_is_stored_for_the_other(serve):
    server, stored = serve()

    refused = send(server, ["inbox@vault.example", "someone@elsewhere.example"])

    assert list(refused) == ["someone@elsewhere.example"]
    [(_, data)] = stored
    assert " for inbox@vault.example; " in parsed(data)["Received"]


def test_the_domain_matches_whatever_its_case_and_any_local_part_is_accepted(serve):
    server, stored = serve(ReceivingRule(frozenset({"vault.example"}), "mail/"))

    send(server, ["No.Such.User@Vault.EXAMPLE"])

    [(key, data)] = stored
    assert key.startswith("mail/")
    assert " for No.Such.User@Vault.EXAMPLE; " in parsed(data)["Received"]


def test_a_message_over_the_limit_is_refused_with_552_and_nothing_is_stored(serve):
    server, stored = serve(ReceivingRule(frozenset({"vault.example"}), "inbound/", max_message_bytes=1024))
    big = MESSAGE + (b"x" * 70 + b"\r\n") * 20

    with client(server) as smtp:
        smtp.ehlo()
        assert smtp.esmtp_features["size"] == "1024"
        # smtplib declares the size in MAIL FROM, so the refusal comes before any data is sent.
        with pytest.raises(smtplib.SMTPSenderRefused) as refusal:
            smtp.sendmail(SENDER, ["inbox@vault.example"], big)
        assert (refusal.value.smtp_code, refusal.value.smtp_error) == (552, b"5.3.4 Message too big")
        # Without a declared size, the refusal comes after the data.
        smtp.rset()
        smtp.mail(SENDER)
        smtp.rcpt("inbox@vault.example")
        assert smtp.data(big) == (552, b"5.3.4 Message too big")
        # The session goes on.
        assert smtp.sendmail(SENDER, ["inbox@vault.example"], MESSAGE) == {}

    assert len(stored) == 1
    assert stored[0][1].endswith(MESSAGE)


def test_the_gtube_string_makes_the_spam_verdict_fail(serve):
    server, stored = serve()

    send(server, ["inbox@vault.example"], MESSAGE + GTUBE + b"\r\n")

    message = parsed(stored[0][1])
    assert message["X-SES-Spam-Verdict"] == "FAIL"
    assert message["X-SES-Virus-Verdict"] == "PASS"


def test_the_eicar_string_in_a_base64_attachment_makes_the_virus_verdict_fail(serve):
    server, stored = serve()
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = SENDER, "inbox@vault.example", "Invoice"
    mail.set_content("The invoice is attached.")
    mail.add_attachment(EICAR, maintype="application", subtype="octet-stream", filename="invoice.com")
    raw = mail.as_bytes(policy=email.policy.SMTP)
    assert EICAR not in raw  # only its base64 is sent

    send(server, ["inbox@vault.example"], raw)

    message = parsed(stored[0][1])
    assert message["X-SES-Virus-Verdict"] == "FAIL"
    assert message["X-SES-Spam-Verdict"] == "PASS"


def test_a_failing_store_gets_451_and_the_next_message_is_stored(serve):
    stored: Stored = []
    calls = 0

    def flaky(key: str, data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("S3 is down")
        stored.append((key, data))

    server, _ = serve(store=flaky)

    with pytest.raises(smtplib.SMTPDataError) as failure:
        send(server, ["inbox@vault.example"])
    assert failure.value.smtp_code == 451
    assert failure.value.smtp_error.startswith(b"4.3.0 ")
    assert server.messages_stored == 0

    send(server, ["inbox@vault.example"])

    assert len(stored) == 1
    assert server.messages_stored == 1


def test_two_senders_at_once_are_both_stored_while_each_store_waits_for_the_other(serve):
    stored: Stored = []
    both_storing = threading.Barrier(2, timeout=10)  # broken, hence 451, if stores ran one at a time

    def store(key: str, data: bytes) -> None:
        both_storing.wait()
        stored.append((key, data))

    server, _ = serve(store=store)
    errors: list[BaseException] = []

    def sender(recipient: str) -> None:
        try:
            send(server, [recipient])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=sender, args=(f"{name}@vault.example",)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(stored) == 2
    assert len({key for key, _ in stored}) == 2


def test_servers_start_and_stop_several_times_in_one_process(serve):
    first, stored = serve()
    send(first, ["inbox@vault.example"])
    first_port = first.port
    first.stop()
    first.stop()  # a second stop does nothing

    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(first.host, first_port, local_hostname="client.test", timeout=10)

    second, stored_by_second = serve()
    send(second, ["inbox@vault.example"])
    first.start()  # the same instance again, on a newly bound port
    send(first, ["inbox@vault.example"])

    assert len(stored) == 2
    assert len(stored_by_second) == 1
    assert first.messages_stored == 2
    with pytest.raises(RuntimeError, match="already started"):
        first.start()


def test_the_server_writes_nothing_to_stdout_and_quiets_aiosmtpd(serve, capsys):
    server, stored = serve()

    send(server, ["inbox@vault.example"])
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(server, ["someone@elsewhere.example"])

    assert len(stored) == 1
    assert capsys.readouterr().out == ""
    assert logging.getLogger("mail.log").getEffectiveLevel() == logging.WARNING


def test_an_envelope_sender_of_another_domain_than_the_from_fails_spf_and_dmarc(serve):
    """Locally the developer's machine is the sender's authorised server, so a From line that
    the envelope does not match is how a spoofed sender is tried."""
    server, stored = serve()
    message = b"From: Shop <shop@shop.example>\r\nTo: r@vault.example\r\nSubject: x\r\n\r\nbody\r\n"
    with client(server) as smtp:
        smtp.sendmail("mallory@evil.example", ["r@vault.example"], message)
    [(_, data)] = stored
    authentication = parsed(data)["Authentication-Results"]
    assert " spf=fail " in authentication and "dmarc=fail header.from=shop.example;" in authentication
