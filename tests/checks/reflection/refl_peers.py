"""Hand-written peers for the reflection tests: each speaks just enough of its protocol
to receive the credentials, then puts them into every text it sends back.

``peer(handler)`` runs ``handler(reader, writer)`` for each connection on
127.0.0.1 and yields the port. The handlers: ``smtp_reflector``,
``imap_reflector``, ``redis_reflector``, ``postgres_reflector``,
``mysql_reflector`` (MySQL scrambles the password: that peer is told it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def peer(handler: Handler) -> AsyncIterator[int]:
    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await handler(reader, writer)
        writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


def smtp_reflector(accept: bool) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard = ""

        def say(line: str) -> None:
            writer.write(f"{line} {heard}\r\n".encode())

        say("220 mail ESMTP Postfix ready")
        while line := (await reader.readline()).decode().strip():
            verb = line.split()[0].upper()
            if verb == "EHLO":
                writer.write(f"250-hello {heard}\r\n250-AUTH PLAIN LOGIN\r\n".encode())
                say("250 OK")
            elif verb == "AUTH":
                heard = base64.b64decode(line.split()[2]).decode().replace("\0", " ")
                say("235 2.7.0 welcome" if accept else "535 5.7.8 bad credentials")
            else:
                say("221 bye")
                break
            await writer.drain()

    return handle


def imap_reflector(accept: bool) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard = ""
        writer.write(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready\r\n")
        while line := (await reader.readline()).decode().strip():
            tag, verb = line.split()[:2]
            if verb.upper() == "LOGIN":
                heard = line
                status = "OK" if accept else "NO [AUTHENTICATIONFAILED]"
                writer.write(f"* NOTE {heard}\r\n{tag} {status} {heard}\r\n".encode())
            elif verb.upper() == "CAPABILITY":
                writer.write(f"* CAPABILITY IMAP4rev1 {heard}\r\n{tag} OK done\r\n".encode())
            else:
                writer.write(f"* BYE {heard}\r\n{tag} OK {heard}\r\n".encode())
            await writer.drain()

    return handle


async def _resp_command(reader: asyncio.StreamReader) -> list[str]:
    count = int((await reader.readline())[1:])
    arguments = []
    for _ in range(count):
        size = int((await reader.readline())[1:])
        arguments.append((await reader.readexactly(size + 2))[:-2].decode())
    return arguments


def redis_reflector(accept: bool) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard = ""
        while command := await _resp_command(reader):
            verb = command[0].upper()
            if verb == "AUTH":
                heard = " ".join(command[1:])
                writer.write(b"+OK\r\n" if accept else f"-WRONGPASS {heard}\r\n".encode())
            elif verb == "PING":
                writer.write(b"+PONG\r\n")
            else:
                info = f"# Server {heard}\r\nredis_version:7.2.4-{heard}\r\nos:{heard}\r\n"
                writer.write(f"${len(info)}\r\n{info}\r\n".encode())
            await writer.drain()

    return handle


def _pg_message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def postgres_reflector(sqlstate: str) -> Handler:
    """Asks for a cleartext password, then fails with it in every error field."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        (length,) = struct.unpack("!I", await reader.readexactly(4))
        await reader.readexactly(length - 4)  # the startup message
        writer.write(_pg_message(b"R", struct.pack("!I", 3)))  # cleartext password, please
        await writer.drain()
        kind, size = await reader.readexactly(1), struct.unpack("!I", await reader.readexactly(4))
        heard = (await reader.readexactly(size[0] - 4)).rstrip(b"\0").decode()
        assert kind == b"p"
        fields = {b"S": "FATAL", b"V": "FATAL", b"C": sqlstate, b"M": f"no: {heard}",
                  b"D": heard, b"H": heard}  # fmt: skip
        body = b"".join(k + v.encode() + b"\0" for k, v in fields.items()) + b"\0"
        writer.write(_pg_message(b"E", body))
        await writer.drain()

    return handle


def _mysql_packet(sequence: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([sequence]) + payload


def mysql_reflector(password: str, code: int) -> Handler:
    """A handshake whose version string and error message hold ``password``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        capabilities = 0x1 | 0x8 | 0x200 | 0x8000 | 0x80000
        salt = b"abcdefghijklmnopqrst"
        greeting = (
            b"\x0a" + f"5.7.0-{password}".encode() + b"\0" + struct.pack("<I", 7) + salt[:8]
            + b"\0" + struct.pack("<H", capabilities & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
            + struct.pack("<H", capabilities >> 16) + bytes([21]) + b"\0" * 10 + salt[8:] + b"\0"
            + b"mysql_native_password\0"
        )  # fmt: skip
        writer.write(_mysql_packet(0, greeting))
        await writer.drain()
        header = await reader.readexactly(4)
        await reader.readexactly(int.from_bytes(header[:3], "little"))
        error = b"\xff" + struct.pack("<H", code) + b"#28000" + f"denied: {password}".encode()
        writer.write(_mysql_packet(header[3] + 1, error))
        await writer.drain()

    return handle
