"""Loopback peers every database check is tested against, besides its real server.

- ``closed_port``: a port bound but not listening: a connect is refused at once.
- ``syn_dropped_port``: a listener with ``listen(0)`` whose accept queue is full,
  so the kernel drops further SYNs: a connect hangs (a black hole).
- ``silent_server``: accepts and never answers (a black hole after connect).
- ``Listener``: counts what reached it, to prove a refused target got nothing.
- ``Proxy``: forwards to a real server, optionally terminating TLS with a given
  certificate (recording the SNI names asked for) and recording client bytes.
Only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"
_CONNECT_WAIT_S = 0.2


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    return sock


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """Bound (so no one else takes it) and never listening: connects get RST."""
    with _bound_socket() as sock:
        yield sock.getsockname()[1]


def _connected_within(sock: socket.socket, port: int, seconds: float) -> bool:
    sock.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        sock.connect((LOOPBACK, port))
    _, writable, _ = select.select([], [sock], [], seconds)
    return bool(writable) and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


@contextlib.contextmanager
def syn_dropped_port() -> Iterator[int]:
    """Fill a ``listen(0)`` queue until a connect no longer completes; then SYNs are dropped."""
    with _bound_socket() as listener, contextlib.ExitStack() as fillers:
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(16):
            filler = fillers.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            if not _connected_within(filler, port, _CONNECT_WAIT_S):
                break
        else:
            raise AssertionError("the accept queue never filled: cannot make a black hole")
        yield port


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts every connection, reads nothing back, never writes."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, LOOPBACK, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()


class Listener:
    """A plain listening socket; ``accepted_any()`` says whether anyone connected."""

    def __init__(self) -> None:
        self._sock = _bound_socket()
        self._sock.listen(16)
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]

    def accepted_any(self) -> bool:
        try:
            connection, _ = self._sock.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True

    def close(self) -> None:
        self._sock.close()


@dataclass
class Proxy:
    """Forwards 127.0.0.1:``port`` to ``upstream``; records client bytes and SNI names."""

    upstream: int
    tls: ssl.SSLContext | None = None
    port: int = 0
    client_bytes: bytearray = field(default_factory=bytearray)
    server_names: list[str | None] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Proxy]:
        if self.tls is not None:
            self.tls.sni_callback = self._record_sni
        server = await asyncio.start_server(self._forward, LOOPBACK, 0, ssl=self.tls)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()

    def _record_sni(self, _: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        self.server_names.append(name)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer, record=True),
            self._pipe(up_reader, writer, record=False),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, record: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if record:
                    self.client_bytes.extend(data)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


def server_context(cert_pem: str, key_pem: str, folder: str) -> ssl.SSLContext:
    """A server-side TLS context from PEM text (``ssl`` loads certificates from files)."""
    import os

    path = os.path.join(folder, "proxy.pem")
    with open(path, "w") as handle:
        handle.write(cert_pem + key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(path)
    return context


@contextlib.asynccontextmanager
async def banner_server(banner: bytes = b"SSH-2.0-OpenSSH_9.2p1\r\n") -> AsyncIterator[int]:
    """Speaks another protocol first (an SSH banner), then hangs up on what it reads."""

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        with contextlib.suppress(OSError):
            await writer.drain()
            await reader.read(1)
            writer.write(b"Protocol mismatch.\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, LOOPBACK, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
