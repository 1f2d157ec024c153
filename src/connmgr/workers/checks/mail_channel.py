"""A capped CRLF line channel over an egress-checked connection, for SMTP and IMAP.

Every read is capped (``MAX_LINE_BYTES`` per line; the protocols cap a reply at
``MAX_REPLY_LINES``), so a hostile server cannot make a check buffer without
bound. ``open_channel`` connects through the egress policy with TLS pinned to
the configured name; ``LineChannel.start_tls`` upgrades in place and refuses
bytes the server sent ahead of the handshake.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from typing import Final

from connmgr.workers.checks.base import CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.net import (
    CheckedConnection,
    Stopwatch,
    open_checked,
    tls_context,
    tls_identity,
)
from connmgr.workers.egress import Egress

MAX_LINE_BYTES: Final = 8192
MAX_REPLY_LINES: Final = 128
CLOSE_GRACE_S: Final = 0.25


class ProtocolViolation(Exception):
    """The server broke the protocol (over-long line, too many lines, malformed reply)."""


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
