"""TcpCheck against loopback peers: banners, TLS with a private CA, mTLS, failures."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator

from svc_contract import ServiceCheckContract
from svc_net import (
    LOOPBACK,
    assert_no_secret,
    free_closed_port,
    loopback_egress,
    target,
)
from svc_pki import Pki

from connmgr.schemas.connection_auth import MtlsAuth
from connmgr.schemas.kinds import Kind
from connmgr.workers.checks.base import Check, CheckTarget, Outcome
from connmgr.workers.checks.tcp import MAX_BANNER_BYTES, TcpCheck
from connmgr.workers.egress import Egress
from support.leaks import LeakChannels

BANNER = b"SSH-2.0-OpenSSH_9.6 internal-build-7\r\n"


@contextlib.asynccontextmanager
async def banner_server(
    banner: bytes = BANNER, context: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    async def greet(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            writer.write(banner)
            await writer.drain()
            writer.close()

    server = await asyncio.start_server(greet, LOOPBACK, 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def blocking_tls_server(context: ssl.SSLContext) -> Iterator[int]:
    """A thread serving TLS with OpenSSL's own socket layer, which (unlike asyncio's
    server side) sends the handshake alert when it rejects a client certificate."""
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with (
                contextlib.suppress(OSError),
                context.wrap_socket(connection, server_side=True) as tls,
            ):
                tls.sendall(BANNER)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def tcp(port: int, host: str = LOOPBACK, timeout_s: float = 5.0, **config: object) -> CheckTarget:
    return target(Kind.TCP, {"host": host, "port": port, **config}, timeout_s=timeout_s)


def mtls(base: CheckTarget, pki: Pki) -> CheckTarget:
    secrets = {"client_cert_pem": pki.client_cert_pem, "client_key_pem": pki.client_key_pem}
    return CheckTarget(
        base.connection_id, base.kind, base.config, MtlsAuth(), secrets, base.timeout_s
    )


async def test_an_open_port_is_ok_with_connect_timing() -> None:
    async with banner_server() as port:
        result = await TcpCheck(loopback_egress()).run(tcp(port))
    assert result.outcome is Outcome.OK
    assert {"resolve", "connect"} <= result.phases.keys()


async def test_an_expected_banner_prefix_is_ok_and_the_banner_is_not_reported() -> None:
    async with banner_server() as port:
        result = await TcpCheck(loopback_egress()).run(tcp(port, expect_banner="SSH-2.0-"))
    assert result.outcome is Outcome.OK
    assert "query" in result.phases
    assert "OpenSSH" not in repr(result)


async def test_a_different_banner_is_a_protocol_error() -> None:
    async with banner_server(b"220 smtp ready\r\n") as port:
        result = await TcpCheck(loopback_egress()).run(tcp(port, expect_banner="SSH-2.0-"))
    assert result.outcome is Outcome.PROTOCOL_ERROR
    assert "smtp ready" not in result.detail


async def test_an_endless_banner_is_read_only_up_to_the_cap() -> None:
    flood = b"X" * (MAX_BANNER_BYTES * 8)
    async with banner_server(flood) as port:
        result = await TcpCheck(loopback_egress()).run(tcp(port, expect_banner="X" * 200))
    assert result.outcome is Outcome.OK


async def test_tls_with_the_private_ca_is_ok_and_reports_the_certificate(pki: Pki) -> None:
    async with banner_server(context=pki.server_context()) as port:
        check = TcpCheck(loopback_egress())
        result = await check.run(tcp(port, "tcp.connmgr.test", tls=True, ca_pem=pki.ca_pem))
    assert result.outcome is Outcome.OK
    assert result.server is not None
    assert result.server.tls_subject == "tcp.connmgr.test"  # the configured name
    assert result.server.tls_not_after is not None
    assert "tls" in result.phases


async def test_tls_without_the_ca_is_a_tls_error(pki: Pki) -> None:
    async with banner_server(context=pki.server_context()) as port:
        result = await TcpCheck(loopback_egress()).run(tcp(port, "tcp.connmgr.test", tls=True))
    assert result.outcome is Outcome.TLS_ERROR


async def test_tls_for_another_server_name_is_a_tls_error(pki: Pki) -> None:
    async with banner_server(context=pki.server_context()) as port:
        config = {"tls": True, "ca_pem": pki.ca_pem, "server_name": "other.example"}
        result = await TcpCheck(loopback_egress()).run(tcp(port, "tcp.connmgr.test", **config))
    assert result.outcome is Outcome.TLS_ERROR


async def test_a_client_certificate_is_accepted_by_a_server_that_requires_one(
    pki: Pki, leak_channels: LeakChannels
) -> None:
    context = pki.server_context(require_client_certificate=True)
    with blocking_tls_server(context) as port:
        config = {"tls": True, "ca_pem": pki.ca_pem, "expect_banner": "SSH-"}
        result = await TcpCheck(loopback_egress()).run(
            mtls(tcp(port, "tcp.connmgr.test", **config), pki)
        )
    assert result.outcome is Outcome.OK
    assert_no_secret(result, leak_channels, pki.client_key_pem)


async def test_a_missing_client_certificate_is_a_tls_error(pki: Pki) -> None:
    context = pki.server_context(require_client_certificate=True)
    with blocking_tls_server(context) as port:
        config = {"tls": True, "ca_pem": pki.ca_pem, "expect_banner": "SSH-"}
        result = await TcpCheck(loopback_egress()).run(tcp(port, "tcp.connmgr.test", **config))
    assert result.outcome is Outcome.TLS_ERROR


async def test_a_client_certificate_without_tls_is_a_config_error(pki: Pki) -> None:
    result = await TcpCheck(loopback_egress()).run(mtls(tcp(free_closed_port()), pki))
    assert result.outcome is Outcome.CONFIG_ERROR


class TestTcpCheckContract(ServiceCheckContract):
    def check(self, egress: Egress) -> Check:
        return TcpCheck(egress)

    def target(self, port: int, timeout_s: float = 5.0) -> CheckTarget:
        return tcp(port, expect_banner="SSH-", timeout_s=timeout_s)
