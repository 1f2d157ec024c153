"""What the SMTP and IMAP checks share: a capped line channel and the bounded run.

Every read is capped (``MAX_LINE_BYTES`` per line, ``MAX_REPLY_LINES`` per
reply), so a hostile server cannot make a check buffer without bound. Server
text is only ever *parsed* to choose among fixed sentences; it never reaches a
``CheckResult``. The one exception is ``known_product``, which reports a product
name from a fixed list when the banner contains it, never the banner itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.net import (
    CheckedConnection,
    Stopwatch,
    classify,
    open_checked,
    tls_context,
    tls_identity,
)
from connmgr.workers.egress import DnsFailure, Egress, EgressRefused

MAX_LINE_BYTES: Final = 8192
MAX_REPLY_LINES: Final = 128
CLOSE_GRACE_S: Final = 0.25
BROKEN_PROTOCOL: Final = "the server broke the protocol or closed the connection early"


class ProtocolViolation(Exception):
    """The server broke the protocol (over-long line, too many lines, malformed reply)."""


# What a conversation with a failing target may raise; anything else is a bug.
TARGET_FAILURES: Final = (
    CheckFailed,
    ProtocolViolation,
    EgressRefused,
    DnsFailure,
    TimeoutError,
    OSError,
    EOFError,
    asyncio.LimitOverrunError,
)


@dataclass
class Learned:
    """What the check learned about the server so far (kept on failure too)."""

    server: ServerIdentity | None = None


class LineChannel:
    """CRLF lines over a checked connection; ``start_tls`` upgrades it in place.

    ``context`` verifies the server as ``server_name`` (pinned, whatever address
    the connection reached).
    """

    def __init__(
        self, connection: CheckedConnection, context: ssl.SSLContext, server_name: str
    ) -> None:
        self.connection = connection
        self.context = context
        self.server_name = server_name

    async def send(self, data: bytes) -> None:
        self.connection.writer.write(data)
        await self.connection.writer.drain()

    async def read_line(self) -> str:
        """One line without its line ending; raises on EOF or past ``MAX_LINE_BYTES``."""
        reader = self.connection.reader
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as error:
            raise ProtocolViolation("line too long") from error
        if len(raw) > MAX_LINE_BYTES:
            raise ProtocolViolation("line too long")
        return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")

    async def start_tls(self) -> None:
        """Upgrade to TLS; refuses when the server sent bytes ahead of the handshake.

        Bytes buffered before TLS would otherwise be read as if they came over
        TLS (the STARTTLS response-injection class of attack).
        """
        if getattr(self.connection.reader, "_buffer", b""):
            raise CheckFailed(Outcome.TLS_ERROR, "the server sent data ahead of the TLS handshake")
        await self.connection.writer.start_tls(self.context, server_hostname=self.server_name)

    def server(self, product: str | None) -> ServerIdentity:
        """TLS certificate identity (when TLS is on) with the detected product name."""
        identity = tls_identity(self.connection.writer) or ServerIdentity()
        return dataclasses.replace(identity, version=product)

    def local_literal(self) -> str:
        """Our end's address as an SMTP address literal (RFC 5321 4.1.3), for EHLO."""
        host = str(self.connection.writer.get_extra_info("sockname")[0])
        return f"[IPv6:{host}]" if ":" in host else f"[{host}]"

    async def close(self) -> None:
        """Close politely for a moment, then abort: a stalled peer cannot hold the check."""
        writer = self.connection.writer
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE_S)
        except (TimeoutError, OSError):
            writer.transport.abort()


async def say_goodbye(farewell: Awaitable[object]) -> None:
    """QUIT/LOGOUT politely, but never let a silent server turn a success into a timeout."""
    with contextlib.suppress(*TARGET_FAILURES):
        await asyncio.wait_for(farewell, CLOSE_GRACE_S)


def known_product(banner: str, products: Iterable[str]) -> str | None:
    """The first name of ``products`` that the banner mentions, as spelled in the list."""
    lowered = banner.lower()
    return next((name for name in products if name.lower() in lowered), None)


def quoted(value: str) -> str | None:
    """``value`` as an IMAP quoted string, or None when it needs a literal."""
    if not all(0x20 <= ord(char) <= 0x7E for char in value):
        return None
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_utf7(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            encoded = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    flush()
    return "".join(out)


async def open_channel(
    egress: Egress, target: CheckTarget, watch: Stopwatch, *, implicit_tls: bool
) -> LineChannel:
    """Resolve and connect through the egress policy; TLS at once when ``implicit_tls``.

    The context trusts the system store plus the config's ``ca_pem`` and is
    pinned to ``server_name`` (default: the configured host).
    """
    host: str = getattr(target.config, "host")  # noqa: B009 - every mail config has one
    port: int = getattr(target.config, "port")  # noqa: B009
    server_name: str = getattr(target.config, "server_name", None) or host
    ca_pem: str | None = getattr(target.config, "ca_pem", None)
    try:
        context = tls_context(server_hostname=server_name, ca_pem=ca_pem)
    except (ssl.SSLError, ValueError) as error:
        raise CheckFailed(Outcome.CONFIG_ERROR, "the CA certificate (ca_pem) is invalid") from error
    connection = await open_checked(
        egress,
        host,
        port,
        watch,
        tls=context if implicit_tls else None,
        server_hostname=server_name,
    )
    return LineChannel(connection, context, server_name)


def password_of(target: CheckTarget) -> str:
    """The stored password; a missing one is a configuration error, not a crash."""
    password = target.secrets.get("password")
    if not password:
        raise CheckFailed(Outcome.CONFIG_ERROR, "the connection has no stored password")
    return password


Conversation = Callable[[CheckTarget, Stopwatch, Learned], Awaitable[str]]
"""Talks to the target; returns the fixed sentence of its success or raises."""


async def run_bounded(target: CheckTarget, converse: Conversation) -> CheckResult:
    """Run ``converse`` within ``target.timeout_s``; map every target failure to an outcome.

    Returns ``ok`` with the conversation's sentence when it returns. Failures of
    the target become their outcome with a fixed sentence; a bug (any other
    exception) propagates.
    """
    watch = Stopwatch()
    learned = Learned()
    try:
        async with asyncio.timeout(target.timeout_s):
            sentence = await converse(target, watch, learned)
    except CheckFailed as failure:
        return watch.result(failure.outcome, failure.detail, learned.server)
    except (ProtocolViolation, EOFError, asyncio.LimitOverrunError):
        return watch.result(Outcome.PROTOCOL_ERROR, BROKEN_PROTOCOL, learned.server)
    except TARGET_FAILURES as error:
        outcome, detail = classify(error)
        return watch.result(outcome, detail, learned.server)
    return watch.result(Outcome.OK, sentence, learned.server)
