"""IMAP check: greeting, CAPABILITY, STARTTLS when configured, LOGIN, EXAMINE, LOGOUT.

Written on asyncio streams over ``open_checked`` (egress-checked address, TLS
pinned to the configured hostname). LOGIN arguments are sent as quoted strings,
or as literals when they hold non-printable or non-ASCII characters, so no
credential can inject a command. The optional mailbox is opened with EXAMINE
(read-only: nothing on the server changes). With ``security: starttls`` the
password is never sent unless STARTTLS succeeded. Server text is parsed for
status words and response codes only; it never reaches the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Final

from connmgr.schemas.kinds import ImapConfig, Kind
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.mail import (
    MAX_LINE_BYTES,
    MAX_REPLY_LINES,
    Learned,
    LineChannel,
    ProtocolViolation,
    known_product,
    mailbox_utf7,
    open_channel,
    password_of,
    quoted,
    run_bounded,
    say_goodbye,
)
from connmgr.workers.checks.net import Stopwatch
from connmgr.workers.egress import Egress

IMAP_PRODUCTS: Final = ("Dovecot", "Cyrus", "Courier", "Microsoft Exchange", "Zimbra", "Gimap")
_LITERAL = re.compile(r"\{(\d{1,9})\}$")
_TAGGED = re.compile(r"^(?P<status>OK|NO|BAD)(?: \[(?P<code>[A-Z-]+)[^\]]*\])?", re.IGNORECASE)
_MAILBOX_FAILURES: Final = {
    "NOPERM": (Outcome.PERMISSION_DENIED, "the user may not open the mailbox"),
    "NONEXISTENT": (Outcome.CONFIG_ERROR, "the mailbox does not exist"),
}


@dataclass(frozen=True, slots=True)
class Tagged:
    status: str
    code: str | None
    untagged: list[str]


class ImapSession:
    """Tagged commands over a line channel; every reply is capped in lines and bytes."""

    def __init__(self, channel: LineChannel) -> None:
        self.channel = channel
        self._tags = 0

    async def read_line(self) -> str:
        """One response line, with any literals it announces read inline (capped)."""
        line = await self.channel.read_line()
        while (match := _LITERAL.search(line)) is not None:
            size = int(match.group(1))
            if size + len(line) > MAX_LINE_BYTES:
                raise ProtocolViolation("literal too long")
            data = await self.channel.connection.reader.readexactly(size)
            line += data.decode("utf-8", errors="replace") + await self.channel.read_line()
        return line

    async def command(self, verb: str, *strings: str) -> Tagged:
        """Send ``verb`` with ``strings`` quoted (or as literals); await its tagged reply."""
        self._tags += 1
        tag = f"c{self._tags}"
        pending = f"{tag} {verb}"
        for value in strings:
            if (text := quoted(value)) is not None:
                pending += " " + text
                continue
            data = value.encode("utf-8")
            if b"\0" in data or b"\r" in data or b"\n" in data:
                raise CheckFailed(Outcome.CONFIG_ERROR, "a login value holds a forbidden character")
            await self.channel.send(f"{pending} {{{len(data)}}}\r\n".encode())
            await self._continuation(tag)
            await self.channel.send(data)
            pending = ""
        await self.channel.send(pending.encode("utf-8") + b"\r\n")
        return await self._tagged(tag)

    async def _continuation(self, tag: str) -> None:
        for _ in range(MAX_REPLY_LINES):
            line = await self.read_line()
            if line.startswith("+"):
                return
            if line.startswith(f"{tag} "):
                raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server refused a literal")
        raise ProtocolViolation("no continuation")

    async def _tagged(self, tag: str) -> Tagged:
        untagged: list[str] = []
        for _ in range(MAX_REPLY_LINES):
            line = await self.read_line()
            if not line.startswith(f"{tag} "):
                untagged.append(line)
                continue
            match = _TAGGED.match(line[len(tag) + 1 :])
            if match is None:
                raise ProtocolViolation("malformed tagged reply")
            code = match.group("code")
            return Tagged(match.group("status").upper(), code and code.upper(), untagged)
        raise ProtocolViolation("reply too long")

    async def capabilities(self) -> set[str]:
        reply = await self.command("CAPABILITY")
        if reply.status != "OK":
            raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server refused CAPABILITY")
        found = [line.upper().split() for line in reply.untagged]
        return {word for words in found if words[:2] == ["*", "CAPABILITY"] for word in words[2:]}


class ImapCheck:
    """Logs in to an IMAP server, optionally examines a mailbox, and logs out."""

    kind: ClassVar[Kind] = Kind.IMAP

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    async def run(self, target: CheckTarget) -> CheckResult:
        return await run_bounded(target, self._converse)

    async def _converse(self, target: CheckTarget, watch: Stopwatch, learned: Learned) -> str:
        config = target.config
        if not isinstance(config, ImapConfig):
            raise TypeError("ImapCheck needs an ImapConfig")
        implicit = config.security == "implicit"
        channel = await open_channel(self._egress, target, watch, implicit_tls=implicit)
        session = ImapSession(channel)
        try:
            greeting = await session.read_line()
            product = known_product(greeting, IMAP_PRODUCTS)
            learned.server = session.channel.server(product)
            preauthenticated = _greeted(greeting)
            capabilities = await session.capabilities()
            if config.security == "starttls":
                capabilities = await _start_tls(session, capabilities, watch)
                learned.server = session.channel.server(product)
            if not preauthenticated:
                await _login(session, capabilities, target, watch)
            if config.mailbox is not None:
                await _examine(session, config.mailbox, watch)
            await say_goodbye(session.command("LOGOUT"))
            return "the server accepted the login"
        finally:
            await session.channel.close()


def _greeted(greeting: str) -> bool:
    """Whether the greeting pre-authenticated us; raises unless the server is ready."""
    words = greeting.upper().split()
    if words[:2] == ["*", "PREAUTH"]:
        return True
    if words[:2] != ["*", "OK"]:
        raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server refused the IMAP session")
    return False


async def _start_tls(session: ImapSession, capabilities: set[str], watch: Stopwatch) -> set[str]:
    """STARTTLS, then CAPABILITY again (RFC 3501 6.2.1: forget pre-TLS capabilities)."""
    if "STARTTLS" not in capabilities:
        raise CheckFailed(
            Outcome.TLS_ERROR, "the server does not offer STARTTLS; no credentials were sent"
        )
    if (await session.command("STARTTLS")).status != "OK":
        raise CheckFailed(Outcome.TLS_ERROR, "the server refused to start TLS")
    with watch.phase("tls"):
        await session.channel.start_tls()
    return await session.capabilities()


async def _login(
    session: ImapSession, capabilities: set[str], target: CheckTarget, watch: Stopwatch
) -> None:
    if "LOGINDISABLED" in capabilities:
        raise CheckFailed(Outcome.TLS_ERROR, "the server allows login only over TLS")
    username = getattr(target.auth, "username", "")
    password = password_of(target)
    with watch.phase("auth"):
        reply = await session.command("LOGIN", username, password)
    if reply.status == "OK":
        return
    if reply.code == "PRIVACYREQUIRED":
        raise CheckFailed(Outcome.TLS_ERROR, "the server allows login only over TLS")
    if reply.status == "NO":
        raise CheckFailed(Outcome.AUTH_FAILED, "the server rejected the username or password")
    raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server did not understand LOGIN")


async def _examine(session: ImapSession, mailbox: str, watch: Stopwatch) -> None:
    """EXAMINE (read-only SELECT); ``NO`` maps to a permission or configuration outcome."""
    with watch.phase("query"):
        reply = await session.command("EXAMINE", mailbox_utf7(mailbox))
    if reply.status == "OK":
        return
    if reply.status == "BAD":
        raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server did not understand EXAMINE")
    raise CheckFailed(
        *_MAILBOX_FAILURES.get(
            reply.code or "", (Outcome.CONFIG_ERROR, "the server cannot open the mailbox")
        )
    )
