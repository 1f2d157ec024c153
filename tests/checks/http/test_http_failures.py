"""Failures the http check reports as outcomes: TLS, mTLS, unreachable, timeouts, config."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from http_peers import api_app, threaded_tls_server
from http_pki import Pki
from http_targets import Serve, http_target, leaked
from yarl import URL

from connmgr.schemas.connection_auth import BearerAuth, MtlsAuth
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.http import HttpCheck
from connmgr.workers.egress import DnsFailure, Egress, EgressPolicy, IPAddress


@pytest.fixture
async def tls_api(serve: Serve, pki: Pki) -> URL:
    return await serve(api_app(), pki.server_context())


@pytest.fixture(params=["asyncio", "threaded"])
async def mtls_api(request: pytest.FixtureRequest, serve: Serve, pki: Pki) -> AsyncIterator[URL]:
    """An mTLS server trusting ``pki.ca``: aiohttp's, and a threaded one that sends alerts."""
    context = pki.server_context(require_client_certificate=True)
    if request.param == "asyncio":
        yield await serve(api_app(), context)
        return
    with threaded_tls_server(context) as port:
        yield URL(f"https://127.0.0.1:{port}")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops further SYNs, nothing answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        fillers = [socket.create_connection(address, timeout=5)]
        for _ in range(2):
            extra = socket.socket()
            extra.setblocking(False)
            extra.connect_ex(address)
            fillers.append(extra)
        yield int(address[1])
        for filler in fillers:
            filler.close()


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


@pytest.fixture(params=["black_hole", "silent_server"])
async def unanswering_port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "black_hole":
            yield stack.enter_context(black_hole())
        else:
            yield await stack.enter_async_context(silent_server())


async def test_a_certificate_from_an_unknown_ca_fails_verification(
    tls_api: URL, egress: Egress
) -> None:
    result = await HttpCheck(egress).run(http_target(tls_api, "/status"))

    assert (result.outcome, result.detail) == (
        Outcome.TLS_ERROR,
        "the server certificate could not be verified",
    )


async def test_the_configured_ca_makes_the_certificate_verify(
    tls_api: URL, egress: Egress, pki: Pki
) -> None:
    result = await HttpCheck(egress).run(http_target(tls_api, "/status", ca_pem=pki.ca.cert_pem))

    assert result.outcome is Outcome.OK


async def test_the_server_name_is_verified_while_connecting_by_address(
    tls_api: URL, egress: Egress, pki: Pki
) -> None:
    check = HttpCheck(egress)
    good = http_target(tls_api, "/status", ca_pem=pki.ca.cert_pem, server_name="api.test")
    bad = http_target(tls_api, "/status", ca_pem=pki.ca.cert_pem, server_name="other.test")

    assert (await check.run(good)).outcome is Outcome.OK
    assert (await check.run(bad)).outcome is Outcome.TLS_ERROR


async def test_mtls_with_a_client_certificate_from_the_trusted_ca_is_accepted(
    mtls_api: URL, egress: Egress, pki: Pki
) -> None:
    secrets = {"client_cert_pem": pki.client.cert_pem, "client_key_pem": pki.client.key_pem}
    target = http_target(
        mtls_api, "/status", auth=MtlsAuth(), secrets=secrets, ca_pem=pki.ca.cert_pem
    )

    result = await HttpCheck(egress).run(target)

    assert result.outcome is Outcome.OK
    assert leaked(result, [pki.client.key_pem]) == []


async def test_mtls_with_a_certificate_from_another_ca_is_auth_failed(
    mtls_api: URL, egress: Egress, pki: Pki
) -> None:
    rogue = pki.rogue_client
    secrets = {"client_cert_pem": rogue.cert_pem, "client_key_pem": rogue.key_pem}
    target = http_target(
        mtls_api, "/status", auth=MtlsAuth(), secrets=secrets, ca_pem=pki.ca.cert_pem
    )

    result = await HttpCheck(egress).run(target)

    assert (result.outcome, result.detail) == (
        Outcome.AUTH_FAILED,
        "the server did not accept the client certificate",
    )


async def test_an_mtls_server_refuses_a_client_without_certificate(
    mtls_api: URL, egress: Egress, pki: Pki
) -> None:
    result = await HttpCheck(egress).run(http_target(mtls_api, "/status", ca_pem=pki.ca.cert_pem))

    assert result.outcome in (Outcome.TLS_ERROR, Outcome.PROTOCOL_ERROR), result.detail


async def test_an_unloadable_client_key_is_a_config_error(
    mtls_api: URL, egress: Egress, pki: Pki
) -> None:
    secrets = {"client_cert_pem": pki.client.cert_pem, "client_key_pem": pki.rogue_client.key_pem}
    target = http_target(mtls_api, "/status", auth=MtlsAuth(), secrets=secrets)

    result = await HttpCheck(egress).run(target)

    assert (result.outcome, result.detail) == (
        Outcome.CONFIG_ERROR,
        "the CA certificate or the client certificate cannot be loaded",
    )
    assert leaked(result, [pki.rogue_client.key_pem]) == []


async def test_a_closed_port_is_unreachable(closed_port: int, egress: Egress) -> None:
    result = await HttpCheck(egress).run(http_target(f"http://127.0.0.1:{closed_port}"))

    assert (result.outcome, result.detail) == (Outcome.UNREACHABLE, "the connection was refused")


async def test_a_target_that_never_answers_times_out_within_the_bound(
    unanswering_port: int, egress: Egress
) -> None:
    target = http_target(f"http://127.0.0.1:{unanswering_port}", timeout_s=0.5)

    started = time.perf_counter()
    result = await HttpCheck(egress).run(target)
    elapsed = time.perf_counter() - started

    assert (result.outcome, result.detail) == (
        Outcome.TIMEOUT,
        "the target did not answer within the timeout",
    )
    assert 0.45 <= elapsed < 1.5


async def test_a_name_that_does_not_resolve_is_a_dns_error() -> None:
    async def nowhere(host: str, port: int) -> list[IPAddress]:
        raise DnsFailure(host)

    check = HttpCheck(Egress(EgressPolicy(), resolver=nowhere))

    result = await check.run(http_target("https://api.invalid", "/"))

    assert (result.outcome, result.detail) == (Outcome.DNS_ERROR, "the host name does not resolve")


async def test_a_missing_secret_is_a_config_error_naming_the_field(
    serve: Serve, egress: Egress
) -> None:
    base = await serve(web.Application())

    result = await HttpCheck(egress).run(http_target(base, "/", auth=BearerAuth(), secrets={}))

    assert (result.outcome, result.detail) == (
        Outcome.CONFIG_ERROR,
        "the secret field 'token' is missing",
    )


async def test_a_secret_that_would_break_a_header_is_a_config_error(
    serve: Serve, egress: Egress
) -> None:
    hits: list[str] = []
    base = await serve(api_app(hits))
    head = "bt-7c3e9a51d0"
    secret = f"{head}\r\nX-Injected: 1"

    target = http_target(base, "/status", auth=BearerAuth(), secrets={"token": secret})
    result = await HttpCheck(egress).run(target)

    assert result.outcome is Outcome.CONFIG_ERROR
    assert leaked(result, [secret, head]) == []
    assert hits == []
