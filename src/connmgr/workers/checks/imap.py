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

from typing import ClassVar, Final

from connmgr.schemas.kinds import ImapConfig, Kind
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.imap_session import ImapSession, mailbox_utf7
from connmgr.workers.checks.mail import Learned, MailCheck, password_of, say_goodbye
from connmgr.workers.checks.mail_channel import LineChannel
from connmgr.workers.checks.net import Stopwatch
from connmgr.workers.checks.vetted import known_product

IMAP_PRODUCTS: Final = ("Dovecot", "Cyrus", "Courier", "Microsoft Exchange", "Zimbra", "Gimap")
_MAILBOX_FAILURES: Final = {
    "NOPERM": (Outcome.PERMISSION_DENIED, "the user may not open the mailbox"),
    "NONEXISTENT": (Outcome.CONFIG_ERROR, "the mailbox does not exist"),
}


class ImapCheck(MailCheck[ImapConfig]):
    """Logs in to an IMAP server, optionally examines a mailbox, and logs out."""

    kind: ClassVar[Kind] = Kind.IMAP
    config_type = ImapConfig

    async def _talk(
        self,
        channel: LineChannel,
        config: ImapConfig,
        target: CheckTarget,
        watch: Stopwatch,
        learned: Learned,
    ) -> str:
        session = ImapSession(channel)
        greeting = await session.read_line()
        product = known_product(greeting, IMAP_PRODUCTS)
        learned.server = channel.server(product)
        preauthenticated = _greeted(greeting)
        capabilities = await session.capabilities()
        if config.security == "starttls":
            capabilities = await _start_tls(session, capabilities, watch)
            learned.server = channel.server(product)
        if not preauthenticated:
            await _login(session, capabilities, target, watch)
        if config.mailbox is not None:
            await _examine(session, config.mailbox, watch)
        await say_goodbye(session.command("LOGOUT"))
        return "the server accepted the login"


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
