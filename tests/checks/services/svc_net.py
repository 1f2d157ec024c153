"""Loopback peers every service-check test needs: closed, black-holed, silent, watched.

Everything listens on 127.0.0.1 only; nothing here touches another address.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import select
import socket
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from connmgr.schemas.connection_auth import BasicAuth, NoAuth
from connmgr.schemas.kinds import Kind, parse_config
from connmgr.workers.checks.base import CheckResult, CheckTarget
from connmgr.workers.egress import Egress, EgressPolicy, IPAddress, Resolver, system_resolver
from support.leaks import LeakChannels

LOOPBACK = "127.0.0.1"
TEST_DOMAIN = ".connmgr.test"
PEER_LOGGERS = ("mail.log", "werkzeug", "moto", "asyncio")


def names_resolver(names: Mapping[str, str]) -> Resolver:
    """``names`` first, then ``*.connmgr.test`` to loopback, then the system resolver."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        if host in names:
            return [ipaddress.ip_address(names[host])]
        if host.endswith(TEST_DOMAIN):
            return [ipaddress.ip_address(LOOPBACK)]
        return await system_resolver(host, port)

    return resolve


def loopback_egress(names: Mapping[str, str] | None = None) -> Egress:
    """The dev stack's policy: loopback allowed."""
    return Egress(EgressPolicy(allow_loopback=True), names_resolver(names or {}))


def strict_egress() -> Egress:
    """The production default: loopback refused."""
    return Egress(EgressPolicy(), names_resolver({}))


def target(
    kind: Kind,
    config: Mapping[str, Any],
    *,
    username: str | None = None,
    secrets: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
) -> CheckTarget:
    auth = BasicAuth(username=username) if username is not None else NoAuth()
    return CheckTarget(
        connection_id="00000000-0000-4000-8000-000000000001",
        kind=kind,
        config=parse_config(kind, dict(config)),
        auth=auth,
        secrets=dict(secrets or {}),
        timeout_s=timeout_s,
    )


def free_closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A loopback port whose accept queue is full, so the kernel drops further SYNs.

    ``listen(0)`` plus never accepting: we connect fillers until one stays
    pending (polled with a deadline), which proves the next connect will hang.
    """
    server = socket.socket()
    server.bind((LOOPBACK, 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(64):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((LOOPBACK, port))
            fillers.append(filler)
            _, writable, _ = select.select([], [filler], [], 0.5)
            if not writable:
                yield port
                return
        raise AssertionError("could not fill the accept queue of the black hole")
    finally:
        for filler in fillers:
            filler.close()
        server.close()


@contextlib.contextmanager
def watched_listener() -> Iterator[tuple[int, socket.socket]]:
    """A listening socket that never accepts: a connection attempt would sit in its queue."""
    server = socket.socket()
    server.bind((LOOPBACK, 0))
    server.listen(8)
    server.setblocking(False)
    try:
        yield server.getsockname()[1], server
    finally:
        server.close()


def nothing_connected(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


@contextlib.asynccontextmanager
async def silent_server(context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """Accepts (and completes TLS, if given) and then never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, LOOPBACK, 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.transport.abort()
        server.close()
        await server.wait_closed()


def assert_no_secret(result: CheckResult, leak_channels: LeakChannels, *secrets: str) -> None:
    """No secret, in any form the scanner knows, in the result or on any client-side log
    or output channel (the peers' own loggers, which see the secrets, left out)."""
    leak_channels.ignore_loggers(*PEER_LOGGERS)
    leak_channels.secrets(*secrets)
    leak_channels.add("result", result)
    leak_channels.add("detail", result.detail)
    leak_channels.assert_clean()
