"""Local targets the benches load or check, served by a child process of their own.

    python bench/targets.py tcp|http --count 8 --ports-file PATH

Binds ``--count`` listeners on 127.0.0.1 at ports the kernel picks (no free-port
race), writes them to ``--ports-file`` (one per line, written whole once all
serve), and serves until SIGTERM or SIGINT:

- ``tcp`` accepts each connection and closes it at once (the prober bench's
  ``tcp`` checks);
- ``http`` is a bare aiohttp app: no middleware, no database, no access log (the
  API runs without one too). ``GET /healthz`` and ``GET /health`` answer 200 and a
  tiny JSON body (the ``http`` checks of the tester and prober benches); ``GET
  /api/connections/{id}`` answers a fixed small JSON document, the baseline the
  pipeline bench loads beside the API (the same paths).

Several listeners spread the prober bench's connections over several
``host:port`` targets, as a real fleet's are (the checks cap their concurrency
per target).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from aiohttp import web

HOST: Final = "127.0.0.1"
DOCUMENT: Final = {"id": "bench", "name": "bare", "kind": "postgres", "version": 1}


async def _accept_and_close(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()


async def serve_tcp(count: int) -> tuple[list[int], list[asyncio.Server]]:
    servers = [
        await asyncio.start_server(_accept_and_close, HOST, 0, backlog=1024) for _ in range(count)
    ]
    return [server.sockets[0].getsockname()[1] for server in servers], servers


async def _health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _connection(_request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


def create_bare_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/api/connections/{id}", _connection)
    app.router.add_get("/healthz", _health)
    app.router.add_get("/health", _health)  # the prober bench's (and fault tests') path
    return app


async def serve_http(count: int) -> tuple[list[int], web.AppRunner]:
    app = create_bare_app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ports = []
    for _ in range(count):
        listener = socket.create_server((HOST, 0), backlog=1024)
        ports.append(listener.getsockname()[1])
        await web.SockSite(runner, listener).start()
    return ports, runner


def _write_ports(path: Path, ports: Sequence[int]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text("".join(f"{port}\n" for port in ports))
    partial.rename(path)  # atomic: a reader sees all ports or none


async def serve(mode: str, count: int, ports_file: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if mode == "tcp":
        ports, servers = await serve_tcp(count)
        _write_ports(ports_file, ports)
        await stop.wait()
        for server in servers:
            server.close()
    else:
        ports, runner = await serve_http(count)
        _write_ports(ports_file, ports)
        await stop.wait()
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="local targets of the benches")
    parser.add_argument("mode", choices=("tcp", "http"))
    parser.add_argument("--count", type=int, default=8, help="listeners (ports) to open")
    parser.add_argument("--ports-file", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.mode, max(1, args.count), args.ports_file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
