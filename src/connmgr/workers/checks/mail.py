"""What the SMTP and IMAP checks share: a capped line channel and the bounded run.

Every read is capped (``MAX_LINE_BYTES`` per line, ``MAX_REPLY_LINES`` per
reply), so a hostile server cannot make a check buffer without bound. Server
text is only ever *parsed* to choose among fixed sentences; it never reaches a
``CheckResult``. The one exception is ``known_product``, which reports a product
name from a fixed list when the banner contains it, never the banner itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.net import (
    CheckedConnection,
    Stopwatch,
    classify,
    tls_context,
    tls_identity,
)
from connmgr.workers.egress import DnsFailure, EgressRefused

MAX_LINE_BYTES: Final = 8192
MAX_REPLY_LINES: Final = 128
CLOSE_GRACE_S: Final = 1.0
BROKEN_PROTOCOL: Final = "the server broke the protocol or closed the connection early"


class ProtocolViolation(Exception):
    """The server broke the protocol (over-long line, too many lines, malformed reply)."""


class CheckFailed(Exception):
    """A failure the conversation understood: an outcome and its fixed sentence."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome
        self.detail = detail


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
    """CRLF lines over a checked connection; ``start_tls`` upgrades it in place."""

    def __init__(self, connection: CheckedConnection) -> None:
        self.connection = connection

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

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        await self.connection.writer.start_tls(context, server_hostname=server_hostname)

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


def known_product(banner: str, products: Iterable[str]) -> str | None:
    """The first name of ``products`` that the banner mentions, as spelled in the list."""
    lowered = banner.lower()
    return next((name for name in products if name.lower() in lowered), None)


def check_tls(target: CheckTarget, host: str) -> ssl.SSLContext:
    """A verifying context pinned to ``server_name`` (or the host) with the custom CA."""
    ca_pem: str | None = getattr(target.config, "ca_pem", None)
    server_name: str | None = getattr(target.config, "server_name", None)
    return tls_context(server_hostname=server_name or host, ca_pem=ca_pem)


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
