"""Peers without auth: ``api_app`` (statuses, bodies, redirects) and a threaded TLS peer.

``threaded_tls_server`` is a blocking TLS server in threads: unlike asyncio's,
it sends its TLS alerts before closing. It answers every request that completes
a handshake with ``200 ok`` and closes.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator

from aiohttp import web


def _answer(context: ssl.SSLContext, connection: socket.socket) -> None:
    with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True) as tls:
        tls.recv(65536)
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


@contextlib.contextmanager
def threaded_tls_server(context: ssl.SSLContext) -> Iterator[int]:
    """Serve on 127.0.0.1 in threads; yields the port, stops on exit."""
    listener = socket.create_server(("127.0.0.1", 0))
    workers: list[threading.Thread] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            worker = threading.Thread(target=_answer, args=(context, connection), daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for thread in [acceptor, *workers]:
            thread.join(timeout=5)


def api_app(hits: list[str] | None = None) -> web.Application:
    """Statuses, bodies, a redirect and a talkative ``Server`` header, no auth."""
    seen = hits if hits is not None else []

    async def status(request: web.Request) -> web.Response:
        seen.append(request.path)
        document = {"data": {"status": "green"}, "items": [{"id": 7}], "note": "all systems go"}
        return web.json_response(document, headers={"Server": "TestServer/1.2 " + "x" * 200})

    async def code(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(status=int(request.match_info["code"]), text="a body with details")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"{" + b" " * (2 * 1024 * 1024) + b"}")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="plain words, not json")

    async def redirect(request: web.Request) -> web.Response:
        seen.append(request.path)
        raise web.HTTPFound(request.query.get("to", "/status"))

    app = web.Application()
    app.router.add_route("*", "/status", status)
    app.router.add_get("/code/{code}", code)
    app.router.add_get("/big", big)
    app.router.add_get("/text", text)
    app.router.add_get("/redirect", redirect)
    return app
