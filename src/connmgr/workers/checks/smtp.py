"""SMTP check: greeting, EHLO, STARTTLS when configured (then EHLO again), AUTH, QUIT.

Written on asyncio streams over ``open_checked`` so the connection goes to the
address the egress policy checked, with TLS pinned to the configured hostname.
No mail is ever sent: the check stops after authentication. With
``security: starttls`` the password is never sent unless STARTTLS succeeded;
a server that does not offer STARTTLS is a ``tls_error``. Server replies are
parsed for their codes only; their text never reaches the result.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import ClassVar, Final

from connmgr.schemas.connection_auth import BasicAuth
from connmgr.schemas.kinds import Kind, SmtpConfig
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.mail import Learned, MailCheck, password_of, say_goodbye
from connmgr.workers.checks.mail_channel import MAX_REPLY_LINES, LineChannel, ProtocolViolation
from connmgr.workers.checks.net import Stopwatch
from connmgr.workers.checks.vetted import known_product

SMTP_PRODUCTS: Final = (
    "Postfix",
    "Exim",
    "Sendmail",
    "Microsoft ESMTP",
    "OpenSMTPD",
    "Haraka",
    "Python SMTP",
)


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    lines: list[str]


async def read_reply(channel: LineChannel) -> Reply:
    """One (possibly multi-line) reply: ``250-…`` continues, ``250 …`` ends."""
    lines: list[str] = []
    for _ in range(MAX_REPLY_LINES):
        line = await channel.read_line()
        if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in ("", " ", "-"):
            raise ProtocolViolation("malformed reply")
        lines.append(line[4:])
        if line[3:4] != "-":
            return Reply(int(line[:3]), lines)
    raise ProtocolViolation("reply too long")


async def command(channel: LineChannel, line: str) -> Reply:
    await channel.send(line.encode("utf-8") + b"\r\n")
    return await read_reply(channel)


async def ehlo(channel: LineChannel) -> dict[str, list[str]]:
    """EHLO; the extensions the server offers, keyword -> upper-cased parameters."""
    reply = await command(channel, f"EHLO {channel.local_literal()}")
    if reply.code != 250:
        raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server refused EHLO")
    extensions: dict[str, list[str]] = {}
    for words in (line.upper().split() for line in reply.lines[1:]):
        if words:  # an empty extension line says nothing (and must not crash the check)
            extensions[words[0]] = words[1:]
    return extensions


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


async def authenticate(channel: LineChannel, mechanisms: list[str], user: str, pw: str) -> None:
    """AUTH PLAIN (preferred) or LOGIN; raises ``CheckFailed`` unless the server says 235."""
    if "PLAIN" in mechanisms:
        token = _b64("\0".join(("", user, pw)))
        reply = await command(channel, f"AUTH PLAIN {token}")
    elif "LOGIN" in mechanisms:
        reply = await command(channel, "AUTH LOGIN")
        for answer in (user, pw):
            if reply.code == 334:
                reply = await command(channel, _b64(answer))
    else:
        raise CheckFailed(Outcome.CONFIG_ERROR, "the server offers neither AUTH PLAIN nor LOGIN")
    if reply.code != 235:
        raise CheckFailed(*_auth_failure(reply.code))


def _auth_failure(code: int) -> tuple[Outcome, str]:
    if code == 538:
        return Outcome.TLS_ERROR, "the server requires encryption before authentication"
    if code == 534:
        return Outcome.CONFIG_ERROR, "the server requires a stronger authentication mechanism"
    if 400 <= code < 500:
        return Outcome.PROTOCOL_ERROR, "the server could not authenticate now (temporary failure)"
    return Outcome.AUTH_FAILED, "the server rejected the username or password"


async def _start_tls(
    channel: LineChannel, extensions: dict[str, list[str]], watch: Stopwatch
) -> dict[str, list[str]]:
    """STARTTLS, then EHLO again (RFC 3207: forget what was learned before TLS)."""
    if "STARTTLS" not in extensions:
        raise CheckFailed(
            Outcome.TLS_ERROR, "the server does not offer STARTTLS; no credentials were sent"
        )
    if (await command(channel, "STARTTLS")).code != 220:
        raise CheckFailed(Outcome.TLS_ERROR, "the server refused to start TLS")
    with watch.phase("tls"):
        await channel.start_tls()
    return await ehlo(channel)


class SmtpCheck(MailCheck[SmtpConfig]):
    """Logs in to an SMTP server (if credentials are configured) and says goodbye."""

    kind: ClassVar[Kind] = Kind.SMTP
    config_type = SmtpConfig

    async def _talk(
        self,
        channel: LineChannel,
        config: SmtpConfig,
        target: CheckTarget,
        watch: Stopwatch,
        learned: Learned,
    ) -> str:
        greeting = await read_reply(channel)
        if greeting.code != 220:
            raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server refused the SMTP session")
        product = known_product(" ".join(greeting.lines), SMTP_PRODUCTS)
        learned.server = channel.server(product)
        extensions = await ehlo(channel)
        if config.security == "starttls":
            extensions = await _start_tls(channel, extensions, watch)
            learned.server = channel.server(product)
        sentence = await self._login(channel, extensions, target, watch)
        await say_goodbye(command(channel, "QUIT"))
        return sentence

    @staticmethod
    async def _login(
        channel: LineChannel,
        extensions: dict[str, list[str]],
        target: CheckTarget,
        watch: Stopwatch,
    ) -> str:
        if not isinstance(target.auth, BasicAuth):
            return "the server accepted the SMTP session"
        password = password_of(target)
        with watch.phase("auth"):
            await authenticate(channel, extensions.get("AUTH", []), target.auth.username, password)
        return "the server accepted the login"
