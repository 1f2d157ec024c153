"""Peers and targets for the egress tests; ``CountingListener`` records every connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeAlias

from aiohttp import web
from yarl import URL

from connmgr.schemas.connection_auth import Auth, NoAuth
from connmgr.schemas.kinds import HttpConfig, HttpTestRequest, Kind, WebhookConfig
from connmgr.workers.checks.base import CheckResult, CheckTarget
from connmgr.workers.egress import Egress, EgressRefused
from support import wait_for
from support.secret_scan import findings_in

Serve: TypeAlias = Callable[[web.Application], Awaitable[URL]]
"""``await serve(app)``: the base URL of a started server on 127.0.0.1."""


def recording_app(path: str) -> tuple[web.Application, list[str]]:
    """An app answering 200 to GET ``path``, and the list of paths it was asked for."""
    hits: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_get(path, answer)
    return app, hits


@dataclass
class CountingListener:
    """Accepts on ``host``; ``peers`` holds the client port of every accepted connection."""

    host: str
    port: int = 0
    peers: list[int] = field(default_factory=list)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(int(writer.get_extra_info("peername")[1]))
        writer.close()

    async def assert_nothing_accepted_before_a_probe(self) -> None:
        """Connect once ourselves: the kernel queues accepts in order, so if ours is the
        first accepted connection, nothing connected earlier."""
        _, writer = await asyncio.open_connection(self.host, self.port)
        probe = int(writer.get_extra_info("sockname")[1])
        await wait_for(lambda: probe in self.peers, message="the probe connection")
        writer.close()
        assert self.peers == [probe]


@contextlib.asynccontextmanager
async def counting_listener(host: str = "127.0.0.1") -> AsyncIterator[CountingListener]:
    listener = CountingListener(host)
    server = await asyncio.start_server(listener._accepted, host, 0)
    listener.port = int(server.sockets[0].getsockname()[1])
    async with server:
        yield listener


def http_target(
    base_url: str | URL,
    path: str = "/",
    *,
    auth: Auth | None = None,
    secrets: dict[str, str] | None = None,
    timeout_s: float = 5.0,
) -> CheckTarget:
    return CheckTarget(
        connection_id="5f1e6d0c-3b2a-4c19-8e7f-6a5b4c3d2e1f",
        kind=Kind.HTTP,
        config=HttpConfig(base_url=str(base_url), test=HttpTestRequest(path=path)),
        auth=auth or NoAuth(),
        secrets=secrets or {},
        timeout_s=timeout_s,
    )


def webhook_target(url: str | URL, *, secrets: dict[str, str] | None = None) -> CheckTarget:
    return CheckTarget(
        connection_id="5f1e6d0c-3b2a-4c19-8e7f-6a5b4c3d2e1f",
        kind=Kind.WEBHOOK,
        config=WebhookConfig(url=str(url)),
        auth=NoAuth(),
        secrets=secrets or {},
        timeout_s=5.0,
    )


def leaked(result: CheckResult, secrets: list[str], *texts: str) -> list[str]:
    """Masked findings of ``secrets`` in the result's repr, detail, server identity or
    ``texts``, in every form ``support.secret_scan`` knows (encoded, partial, PEM lines)."""
    haystacks = {"result": repr(result), "detail": result.detail, "server": str(result.server)}
    haystacks.update({f"text {number}": text for number, text in enumerate(texts, start=1)})
    return findings_in(secrets, haystacks)


async def refusal(egress: Egress, host: str) -> str | None:
    """Why ``egress`` refuses ``host`` (its reason), or None when it lets it through."""
    try:
        await egress.resolve(host, 443)
    except EgressRefused as refused:
        return str(refused)
    return None
