"""What the tester's and prober's checks reach: listeners in the test's own process.

``slow_http_target(delay_s)`` answers every request ``200`` after ``delay_s``,
so a tester replica always holds tests in flight (a loopback check otherwise
takes a millisecond and a SIGKILL would rarely find one); ``tcp_target()``
accepts and closes, a prober's cheapest healthy target.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

HOST = "127.0.0.1"
HEALTH_PATH = "/health"


@asynccontextmanager
async def slow_http_target(delay_s: float) -> AsyncIterator[str]:
    """A local HTTP server; yields its base URL (checks ``GET /health``)."""

    async def health(_request: web.Request) -> web.Response:
        await asyncio.sleep(delay_s)  # the target's own latency: what makes tests in flight
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get(HEALTH_PATH, health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://{HOST}:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def tcp_target() -> AsyncIterator[int]:
    """A local TCP listener that accepts and closes; yields its port."""

    async def close(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(close, HOST, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
