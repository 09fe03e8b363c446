"""Amazon SES email receiving, locally: an SMTP listener whose receipt rule has one S3 action.

Developers send mail to it with smtplib, swaks or a mail client. It answers the way SES's inbound
endpoint does, and stores each accepted message the way the S3 action does: one object for all
its recipients, under the action's ObjectKeyPrefix and a SES-like message id, holding the message
exactly as received with SES's headers on top. The stack's store callback puts the object into
the emulated inbound bucket, and that bucket's S3 event runs the inbound-mail function, as in AWS.

What SES decides, and how it is decided here:
- Recipients: any address at a domain the rule names is accepted, whatever its local part. SES
  knows no mailboxes (the function decides), so unknown addresses are never revealed over SMTP.
  Other domains get 550 5.7.1, like mail that no active rule covers.
- Size: SIZE is advertised. A message over the rule's limit (SES's 40 MB) gets 552 5.3.4 and
  nothing is stored.
- Spam and virus verdicts: X-SES-Spam-Verdict is FAIL when the message contains the GTUBE test
  string, and X-SES-Virus-Verdict is FAIL when it contains the EICAR test string. Both are also
  found inside base64 or quoted-printable parts, such as an attached file. Otherwise the verdicts
  are PASS. Sending one of these strings is how to exercise the function's FAIL path locally.
- SPF, DKIM and DMARC: nothing can be looked up offline, so the developer's machine counts as the
  sender's authorised server: SPF passes when the envelope sender's domain is the From header's
  (DMARC then passes too, aligned), and fails when they differ, which is how a spoofed From is
  tried locally. DKIM is always `none`: nothing is signed.
- A store that fails gets 451 4.3.0, a temporary failure, so the sender retries.
Not emulated: STARTTLS, the null reverse path `MAIL FROM:<>` (aiosmtpd refuses it), and
X-SES-DKIM-SIGNATURE.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.utils
import logging
import re
import secrets
import socket
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from local.clock import utc_now

HOSTNAME = "inbound-smtp.local.receiptvault"
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# Built at run time so that neither this file nor its bytecode holds the string: virus scanners
# quarantine files that do.
EICAR = b"".join((b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$", b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"))

_MESSAGE_ID_ALPHABET = string.ascii_lowercase + string.digits
_DOMAIN = re.compile(r"[a-z0-9.-]+")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivingRule:
    """What the template's receipt rule says: the domains its Recipients name, and its S3 action's
    ObjectKeyPrefix."""

    recipient_domains: frozenset[str]
    object_key_prefix: str
    max_message_bytes: int = 40 * 1024 * 1024  # SES's limit for receiving


@dataclass(frozen=True)
class _Arrival:
    """One message's SMTP transaction, copied before the message is stored on a worker thread."""

    mail_from: str
    recipients: tuple[str, ...]
    helo: str
    peer_ip: str
    content: bytes


class LocalSmtpServer:
    """The listener runs on its own event-loop thread. `store` runs on worker threads, sometimes
    on several at once, so a slow store (an S3 put and the event that follows it) never holds up
    other senders. `store` either stores the whole object or raises."""

    def __init__(
        self, store: Callable[[str, bytes], None], rule: ReceivingRule, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._store = store
        self._rule = rule
        self._domains = frozenset(domain.lower().rstrip(".") for domain in rule.recipient_domains)
        self._host = host
        self._asked_port = port  # kept apart from the bound one: a restart with port 0 binds anew
        self._port = port
        self._controller: _Controller | None = None
        self.messages_stored = 0

    @property
    def host(self) -> str:
        return self._host

    @property
    def rule(self) -> ReceivingRule:
        return self._rule

    @property
    def port(self) -> int:
        """The port that was asked for until start(), then the port that was bound."""
        return self._port

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError("the SMTP server is already started")
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
        # Binding here instead of in aiosmtpd's thread gives port 0 a real port (aiosmtpd connects
        # to its own port to check that it is up), and a port in use fails in start() itself.
        family = socket.getaddrinfo(self._host, self._asked_port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((self._host, self._asked_port), family=family)
        controller = _Controller(_Receiving(self), sock, self._rule.max_message_bytes)
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)  # its thread may be running
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def _accepts(self, address: str) -> bool:
        local_part, at, domain = address.rpartition("@")
        return bool(at and local_part) and domain.lower().rstrip(".") in self._domains

    def _receive(self, arrival: _Arrival) -> str | None:
        """Stores the message as the S3 action does; its message id, or None when the store failed."""
        message_id = "".join(secrets.choice(_MESSAGE_ID_ALPHABET) for _ in range(40))
        data = _ses_headers(arrival, message_id) + arrival.content
        key = self._rule.object_key_prefix + message_id
        try:
            self._store(key, data)
        except Exception:
            _log.warning("storing received mail as %s failed", key, exc_info=True)
            return None
        return message_id


class _Receiving:
    """aiosmtpd's handler: its hooks answer RCPT and DATA."""

    def __init__(self, server: LocalSmtpServer) -> None:
        self._server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not self._server._accepts(address):
            return "550 5.7.1 Message rejected: no receipt rule covers the recipient's domain"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        peer: object = session.peer  # typed a str, but for TCP a (host, port, ...) tuple
        arrival = _Arrival(
            mail_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
            helo=session.host_name or "",
            peer_ip=str(peer[0]) if isinstance(peer, tuple) else "",
            content=envelope.original_content or b"",
        )
        message_id = await asyncio.to_thread(self._server._receive, arrival)
        if message_id is None:
            return "451 4.3.0 Temporary failure storing the message; try again later"
        self._server.messages_stored += 1  # on the event loop's thread only
        return f"250 Ok {message_id}"


class _Smtp(SMTP):
    async def push(self, status: str | bytes) -> None:
        # aiosmtpd's own size refusals (after MAIL FROM's SIZE= and after DATA), in SES's words.
        if isinstance(status, bytes):
            await super().push(status)
        else:
            await super().push("552 5.3.4 Message too big" if status.startswith("552 ") else status)


class _Controller(Controller):
    """aiosmtpd's threaded controller, serving a socket bound beforehand."""

    def __init__(self, handler: _Receiving, sock: socket.socket, max_message_bytes: int) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(
            handler,
            hostname=host,
            port=port,
            server_hostname=HOSTNAME,
            ident="ESMTP",
            data_size_limit=max_message_bytes,
        )
        self._sock = sock

    def factory(self) -> SMTP:
        return _Smtp(self.handler, loop=self.loop, **self.SMTP_kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


def _one_line(text: str) -> str:
    """A value from the SMTP dialogue, safe inside a header."""
    return text.replace("\r", " ").replace("\n", " ")


def _inspect(content: bytes) -> tuple[str, str, str | None]:
    """The spam and virus verdicts, and the From header's domain (for DMARC's header.from)."""
    message = email.message_from_bytes(content)
    bodies = [content]
    for part in message.walk():
        payload = part.get_payload(decode=True)  # base64 and quoted-printable decoded
        if isinstance(payload, bytes):
            bodies.append(payload)
    spam = "FAIL" if any(GTUBE in body for body in bodies) else "PASS"
    virus = "FAIL" if any(EICAR in body for body in bodies) else "PASS"
    from_domain = email.utils.parseaddr(str(message.get("From", "")))[1].rpartition("@")[2].lower()
    return spam, virus, from_domain if _DOMAIN.fullmatch(from_domain) else None


def _ses_headers(arrival: _Arrival, message_id: str) -> bytes:
    """The header fields SES prepends to a received message, in its order and folding."""
    mail_from, helo, ip = _one_line(arrival.mail_from), _one_line(arrival.helo), arrival.peer_ip
    spam, virus, from_domain = _inspect(arrival.content)
    mail_from_domain = mail_from.rpartition("@")[2] or helo
    aligned = from_domain is not None and mail_from_domain.lower() == from_domain
    if aligned:
        spf = (
            f"pass (spfCheck: domain of {mail_from_domain} designates {ip} as permitted sender)"
            f" client-ip={ip}; envelope-from={mail_from}; helo={helo};"
        )
    else:
        spf = (
            f"fail (spfCheck: domain of {mail_from_domain} does not designate {ip} as permitted sender)"
            f" client-ip={ip}; envelope-from={mail_from}; helo={helo};"
        )
    dmarc = "pass" if aligned else "fail"
    received_at = email.utils.format_datetime(utc_now().replace(microsecond=0)) + " (UTC)"
    # SES names the recipient only when there is one.
    if len(arrival.recipients) == 1:
        received = [f" by {HOSTNAME} with SMTP id {message_id}", f" for {_one_line(arrival.recipients[0])};"]
    else:
        received = [f" by {HOSTNAME} with SMTP id {message_id};"]
    receipt = base64.b64encode(b"\0AAAAAAAAAAE" + secrets.token_bytes(144)).decode()
    lines = [
        f"Return-Path: <{mail_from}>",
        f"Received: from {helo} ({helo} [{ip}])",
        *received,
        f" {received_at}",
        f"X-SES-Spam-Verdict: {spam}",
        f"X-SES-Virus-Verdict: {virus}",
        f"Received-SPF: {spf}",
        "Authentication-Results: amazonses.com;",
        f" spf={spf}",
        f" dkim=none header.i=@{mail_from_domain};",
        f" dmarc={dmarc} header.from={from_domain};" if from_domain else " dmarc=none;",
        f"X-SES-RECEIPT: {receipt}",
    ]
    # aiosmtpd decodes the commands with surrogateescape: bytes that are not UTF-8 go back as they came.
    return "".join(line + "\r\n" for line in lines).encode("utf-8", "surrogateescape")
