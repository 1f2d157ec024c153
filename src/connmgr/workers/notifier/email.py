"""E-mail channels: a plain-text message sent through a stored ``smtp`` connection.

Recipients and sender are the connection's ``notify`` field
(``schemas.recipients``)::

    "notify": {"recipients": ["ops@example.com", "oncall@example.com"],
               "sender": "connmgr@example.com"}

Without ``sender`` the sender is the connection's ``basic`` username when it is
an address ``email-validator`` takes, else ``connmgr@<smtp host>``. The stored
field is checked again here, address by address, with ``email-validator``: an
address it refuses is left out (never sent, never raised), at most
``MAX_RECIPIENTS`` are used, and none at all is a misconfigured channel (a
permanent failure).

Sending uses the standard library's ``smtplib`` in a worker thread
(``aiosmtplib`` is not a dependency): the host is resolved and checked by the
egress policy first, and the socket goes to a checked address while TLS
(``security: starttls`` or ``implicit``) verifies the configured hostname. With
``starttls`` the password is sent only after STARTTLS succeeded (smtplib
raises when the server does not offer it). 4xx replies, timeouts and
connection failures are retryable; 5xx replies, refused recipients, refused
credentials and egress refusals are permanent.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from connmgr.schemas.connection_auth import BasicAuth
from connmgr.schemas.kinds import SmtpConfig
from connmgr.schemas.recipients import MAX_RECIPIENTS, checked_address
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.net import classify, tls_context
from connmgr.workers.egress import DnsFailure, Egress, EgressRefused, IPAddress
from connmgr.workers.notifier.channels import Channel
from connmgr.workers.notifier.delivery import Attempt, DeliveryPolicy
from connmgr.workers.notifier.notices import AlertNotice
from connmgr.workers.notifier.texts import facts, headline, summary


def addresses_of(notify: Mapping[str, Any] | None) -> tuple[list[str], str | None]:
    """The valid recipients (no duplicates, at most ``MAX_RECIPIENTS``) and sender of a
    stored ``notify`` field; anything malformed in it is left out."""
    if not isinstance(notify, Mapping):
        return [], None
    listed = notify.get("recipients")
    recipients = [
        address
        for item in (listed if isinstance(listed, list) else [])
        if isinstance(item, str) and (address := checked_address(item)) is not None
    ]
    sender = notify.get("sender")
    sender = checked_address(sender) if isinstance(sender, str) else None
    return list(dict.fromkeys(recipients))[:MAX_RECIPIENTS], sender


def compose(notice: AlertNotice, sender: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = " ".join(f"[connmgr] {headline(notice)}".split())  # one line
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=notice.event_id, domain="connmgr.invalid")
    lines = [summary(notice), ""] + [f"{name}: {value}" for name, value in facts(notice)]
    message.set_content("\n".join(lines) + "\n")
    return message


@dataclass(frozen=True, slots=True, repr=False)
class Submission:
    """Everything the worker thread needs; ``password`` stays in memory only."""

    address: IPAddress
    config: SmtpConfig
    username: str | None
    password: str | None
    message: EmailMessage
    timeout_s: float


class _PinnedSMTP(smtplib.SMTP):
    """Connects to the checked address whatever host name it was given (kept for TLS)."""

    checked_address = ""
    _host: str

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self.checked_address, port), timeout)


class _PinnedSMTPSSL(smtplib.SMTP_SSL, _PinnedSMTP):
    """Implicit TLS over the pinned socket (``SMTP_SSL`` wraps what ``_PinnedSMTP`` opens)."""


def submit(plan: Submission) -> None:
    """Send the message (blocking: run in a thread); raises smtplib/OS/TLS errors."""
    config = plan.config
    context = tls_context(server_hostname=config.server_name or config.host, ca_pem=config.ca_pem)
    smtp: _PinnedSMTP = (
        _PinnedSMTPSSL(local_hostname="connmgr", timeout=plan.timeout_s, context=context)
        if config.security == "implicit"
        else _PinnedSMTP(local_hostname="connmgr", timeout=plan.timeout_s)
    )
    smtp.checked_address = str(plan.address)
    smtp._host = config.host  # the name TLS verifies; the socket goes to the checked address
    with smtp:
        code, _ = smtp.connect(config.host, config.port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, "unexpected greeting")
        if config.security == "starttls":
            smtp.starttls(context=context)
        if plan.password is not None and plan.username is not None:
            smtp.login(plan.username, plan.password)
        smtp.send_message(plan.message)


def smtp_failure(error: BaseException) -> Attempt:
    """A stable code for what ``submit`` raised; server text never leaves this function."""
    match error:
        case smtplib.SMTPAuthenticationError():
            return Attempt.failed(Outcome.AUTH_FAILED.value, permanent=True)
        case smtplib.SMTPRecipientsRefused():
            return Attempt.failed("recipients_refused", permanent=True)
        case smtplib.SMTPNotSupportedError():
            return Attempt.failed(Outcome.TLS_ERROR.value, permanent=False)
        case smtplib.SMTPResponseException(smtp_code=code) if 400 <= code < 600:
            return Attempt.failed(f"smtp_{code}", permanent=code >= 500)
        case smtplib.SMTPException():
            return Attempt.failed(Outcome.PROTOCOL_ERROR.value, permanent=False)
        case EgressRefused():
            return Attempt.failed(Outcome.REFUSED_BY_POLICY.value, permanent=True)
        case _:
            return Attempt.failed(classify(error)[0].value, permanent=False)


class MailSender:
    """Delivers to ``smtp`` channels."""

    def __init__(self, egress: Egress, policy: DeliveryPolicy) -> None:
        self._egress = egress
        self._policy = policy

    async def send(self, channel: Channel, notice: AlertNotice) -> Attempt:
        config = channel.target.config
        recipients, sender = addresses_of(channel.notify)
        if not isinstance(config, SmtpConfig) or channel.unusable or not recipients:
            return Attempt.failed(Outcome.CONFIG_ERROR.value, permanent=True)
        username = _username(channel)
        sender = sender or (username and checked_address(username)) or f"connmgr@{config.host}"
        try:
            addresses = await self._egress.resolve(config.host, config.port)
            plan = Submission(
                addresses[0],
                config,
                username,
                channel.target.secrets.get("password"),
                compose(notice, sender, recipients),
                self._policy.timeout_s,
            )
            await asyncio.wait_for(asyncio.to_thread(submit, plan), self._policy.timeout_s + 1)
        except (EgressRefused, DnsFailure, TimeoutError, OSError, ssl.SSLError) as error:
            return smtp_failure(error)
        return Attempt(True)


def _username(channel: Channel) -> str | None:
    auth: Any = channel.target.auth
    return auth.username if isinstance(auth, BasicAuth) else None
