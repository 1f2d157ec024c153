"""TCP check: connect through the egress policy, TLS when configured, optional banner.

The banner is read with a byte cap (``MAX_BANNER_BYTES``) and compared with the
configured prefix; it is never copied into the result. With ``mtls`` auth the
client certificate and key come from the decrypted secrets and are loaded into
the TLS context only (``net.tls_context`` writes them to a private file that
is deleted at once).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import ClassVar, Final

from connmgr.schemas.connection_auth import MtlsAuth
from connmgr.schemas.kinds import Kind, TcpConfig
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

MAX_BANNER_BYTES: Final = 4096
_FAILURES: Final = (EgressRefused, DnsFailure, TimeoutError, OSError)


class TcpCheck:
    """Opens a TCP (optionally TLS) connection and checks the banner prefix if configured."""

    kind: ClassVar[Kind] = Kind.TCP

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    async def run(self, target: CheckTarget) -> CheckResult:
        """Bounded by ``target.timeout_s``; every target failure maps to an outcome."""
        config = target.config
        if not isinstance(config, TcpConfig):
            raise TypeError("TcpCheck needs a TcpConfig")
        watch = Stopwatch()
        server: list[ServerIdentity | None] = [None]
        try:
            async with asyncio.timeout(target.timeout_s):
                context = _context(config, target)
                await self._converse(config, context, watch, server)
        except CheckFailed as failure:
            return watch.result(failure.outcome, failure.detail, server[0])
        except _FAILURES as error:
            outcome, detail = classify(error)
            return watch.result(outcome, detail, server[0])
        return watch.result(Outcome.OK, _success(config), server[0])

    async def _converse(
        self,
        config: TcpConfig,
        context: ssl.SSLContext | None,
        watch: Stopwatch,
        server: list[ServerIdentity | None],
    ) -> None:
        name = config.server_name or config.host
        connection = await open_checked(
            self._egress, config.host, config.port, watch, tls=context, server_hostname=name
        )
        try:
            server[0] = tls_identity(connection.writer)
            if config.expect_banner is not None:
                with watch.phase("query"):
                    await _expect_banner(connection, config.expect_banner.encode("utf-8"))
        finally:
            connection.writer.transport.abort()


def _context(config: TcpConfig, target: CheckTarget) -> ssl.SSLContext | None:
    """The TLS context, or None for plain TCP; unusable TLS settings are a config error."""
    mtls = isinstance(target.auth, MtlsAuth)
    if not config.tls:
        if mtls:
            raise CheckFailed(Outcome.CONFIG_ERROR, "a client certificate needs tls enabled")
        return None
    try:
        return tls_context(
            server_hostname=config.server_name or config.host,
            ca_pem=config.ca_pem,
            client_cert_pem=target.secrets.get("client_cert_pem") if mtls else None,
            client_key_pem=target.secrets.get("client_key_pem") if mtls else None,
        )
    except (ssl.SSLError, ValueError) as error:
        raise CheckFailed(
            Outcome.CONFIG_ERROR, "the CA certificate or client certificate is invalid"
        ) from error


async def _expect_banner(connection: CheckedConnection, prefix: bytes) -> None:
    """Read until the prefix can be judged (or the cap, or EOF); raise on mismatch."""
    received = b""
    limit = max(len(prefix), 1)
    while len(received) < limit:
        chunk = await connection.reader.read(MAX_BANNER_BYTES - len(received))
        if not chunk:
            raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server closed before sending a banner")
        received += chunk
        if not prefix.startswith(received[: len(prefix)]):
            break
    if not received.startswith(prefix):
        raise CheckFailed(
            Outcome.PROTOCOL_ERROR, "the banner does not start with the expected text"
        )


def _success(config: TcpConfig) -> str:
    if config.expect_banner is not None:
        return "the server sent the expected banner"
    return (
        "the server accepted the TLS connection" if config.tls else "the port accepts connections"
    )
