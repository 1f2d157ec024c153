"""Reflecting peers that speak a real wire protocol as far as the auth step.

Each peer is an asyncio server on 127.0.0.1 that answers like the real product up
to authentication, then puts ``echo`` (the credentials of the test) and every
credential it received into every text the protocol lets it send: banners,
greetings, version strings, notices and error messages. ``reached_auth`` says
the client got as far as sending its credentials (the positive control: the
echo really happened); ``sent`` is everything the peer wrote, so a test can
show its scanner finds the secret there.

- PostgreSQL: SSLRequest (TLS when given a context), startup, cleartext password
  request, then a NoticeResponse and an ErrorResponse (28P01) whose message,
  detail and hint carry the password; or (``accept``) AuthenticationOk with a
  ``server_version`` that echoes, and ``SELECT 1`` answered.
- MySQL: handshake v10 (the version string echoes), SSL request and TLS when
  given a context, then over TLS an AuthSwitchRequest to ``mysql_clear_password``
  so the password itself arrives; then ERR 1045 carrying it, or (``accept``) OK
  and every ``SELECT`` answered with the echo as its one value.
- Redis: RESP; ``AUTH`` gets ``-WRONGPASS`` with the password, or (``accept``)
  ``+OK`` and an ``INFO`` whose ``redis_version`` echoes.
- SMTP and IMAP: greeting, EHLO/CAPABILITY, AUTH PLAIN/LOGIN, each line echoing;
  the login fails (or, ``accept``, succeeds) with the decoded credentials.
- TCP: a TLS banner carrying the echo and the client certificate received.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

Handler = Callable[["Session"], Awaitable[None]]


@dataclass
class Session:
    """One accepted connection of a peer, recording what passes."""

    peer: WirePeer
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def read(self, count: int) -> bytes:
        data = await self.reader.readexactly(count)
        self.peer.received.append(data)
        return data

    async def read_line(self) -> bytes:
        line = await self.reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(line, None)
        self.peer.received.append(line)
        return line

    async def send(self, data: bytes) -> None:
        self.peer.sent.append(data)
        self.writer.write(data)
        await self.writer.drain()

    async def send_line(self, text: str) -> None:
        await self.send(text.encode("utf-8", errors="backslashreplace") + b"\r\n")

    async def start_tls(self, context: ssl.SSLContext) -> None:
        await self.writer.start_tls(context)

    def heard(self) -> str:
        """Everything received so far, as one line of text (the echo of what arrived)."""
        text = b"".join(self.peer.received).decode("utf-8", errors="backslashreplace")
        return " ".join(text.split())


@dataclass
class WirePeer:
    echo: str
    handler: Handler
    tls: ssl.SSLContext | None = None
    implicit_tls: bool = False
    accept: bool = False
    received: list[bytes] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    reached_auth: bool = False
    port: int = 0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WirePeer]:
        context = self.tls if self.implicit_tls else None
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()

    def sent_text(self) -> bytes:
        return b"".join(self.sent)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await self.handler(Session(self, reader, writer))
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def one_line(text: str) -> str:
    return " ".join(text.split())


# PostgreSQL ----------------------------------------------------------------------

SSL_REQUEST = 80877103


def _pg_message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _pg_fields(fields: dict[bytes, str]) -> bytes:
    parts = [key + value.encode("utf-8", errors="replace") + b"\0" for key, value in fields.items()]
    return b"".join(parts) + b"\0"


async def postgres(session: Session) -> None:
    peer = session.peer
    (length,) = struct.unpack("!I", await session.read(4))
    body = await session.read(length - 4)
    if struct.unpack("!I", body[:4])[0] == SSL_REQUEST:
        if peer.tls is None:
            await session.send(b"N")
        else:
            await session.send(b"S")
            await session.start_tls(peer.tls)
        (length,) = struct.unpack("!I", await session.read(4))
        await session.read(length - 4)  # the startup message: user, database, options
    await session.send(_pg_message(b"R", struct.pack("!I", 3)))  # cleartext password
    kind = await session.read(1)
    (length,) = struct.unpack("!I", await session.read(4))
    password = (await session.read(length - 4)).rstrip(b"\0").decode("utf-8", "replace")
    peer.reached_auth = kind == b"p"
    echo = one_line(f"{peer.echo} received: {password} {session.heard()}")
    notice = {b"S": "NOTICE", b"V": "NOTICE", b"C": "00000", b"M": f"echo {echo}"}
    await session.send(_pg_message(b"N", _pg_fields(notice)))
    if peer.accept:
        await _pg_logged_in(session, echo)
        return
    error = {
        b"S": "FATAL", b"V": "FATAL", b"C": "28P01",
        b"M": f'password authentication failed for user "{echo}"',
        b"D": f"Connection matched pg_hba.conf line 1: {echo}", b"H": f"try {echo}",
    }  # fmt: skip
    await session.send(_pg_message(b"E", _pg_fields(error)))


_PG_STATUS = {
    "server_encoding": "UTF8", "client_encoding": "UTF8", "DateStyle": "ISO, MDY",
    "integer_datetimes": "on", "standard_conforming_strings": "on", "TimeZone": "UTC",
}  # fmt: skip
INT4_OID = 23


def _pg_status(name: str, value: str) -> bytes:
    return _pg_message(b"S", name.encode() + b"\0" + value.encode("utf-8", "replace") + b"\0")


async def _pg_logged_in(session: Session, echo: str) -> None:
    """AuthenticationOk, a ``server_version`` that echoes, then ``SELECT 1`` answered."""
    await session.send(_pg_message(b"R", struct.pack("!I", 0)))
    await session.send(_pg_status("server_version", f"16.1 {echo}"))
    await session.send(_pg_status("application_name", echo))
    for name, value in _PG_STATUS.items():
        await session.send(_pg_status(name, value))
    await session.send(_pg_message(b"K", struct.pack("!II", 4242, 7)))
    await session.send(_pg_message(b"Z", b"I"))
    await _pg_answer_queries(session)


def _pg_row_description(text_format: int) -> bytes:
    column = b"?column?\0" + struct.pack("!IhIhih", 0, 0, INT4_OID, 4, -1, text_format)
    return _pg_message(b"T", struct.pack("!h", 1) + column)


def _pg_one(binary: bool) -> bytes:
    value = struct.pack("!i", 1) if binary else b"1"
    return _pg_message(b"D", struct.pack("!hi", 1, len(value)) + value)


def _pg_result_binary(bind: bytes) -> bool:
    """Whether a Bind asks for its result in binary (the format codes at its end)."""
    at = bind.index(b"\0") + 1
    at = bind.index(b"\0", at) + 1
    (formats,) = struct.unpack_from("!h", bind, at)
    at += 2 + 2 * formats
    (parameters,) = struct.unpack_from("!h", bind, at)
    at += 2
    for _ in range(parameters):
        (size,) = struct.unpack_from("!i", bind, at)
        at += 4 + max(size, 0)
    (results,) = struct.unpack_from("!h", bind, at)
    return results > 0 and struct.unpack_from("!h", bind, at + 2)[0] == 1


async def _pg_answer_queries(session: Session) -> None:
    """The extended protocol (Parse/Describe/Bind/Execute/Flush/Sync) and simple queries,
    each answered as ``SELECT 1`` would be."""
    answers: list[bytes] = []
    binary = False
    while True:
        kind = await session.read(1)
        (length,) = struct.unpack("!I", await session.read(4))
        body = await session.read(length - 4)
        match kind:
            case b"X":
                return
            case b"P":
                answers.append(_pg_message(b"1", b""))
            case b"D":
                if body[:1] == b"S":
                    answers.append(_pg_message(b"t", struct.pack("!h", 0)))
                answers.append(_pg_row_description(1 if binary else 0))
            case b"B":
                binary = _pg_result_binary(body)
                answers.append(_pg_message(b"2", b""))
            case b"E":
                answers += [_pg_one(binary), _pg_message(b"C", b"SELECT 1\0")]
            case b"H":  # Flush: what is pending, without ReadyForQuery
                await session.send(b"".join(answers))
                answers = []
            case b"S":
                await session.send(b"".join([*answers, _pg_message(b"Z", b"I")]))
                answers = []
            case b"Q":
                row = [_pg_row_description(0), _pg_one(False), _pg_message(b"C", b"SELECT 1\0")]
                await session.send(b"".join([*row, _pg_message(b"Z", b"I")]))


# MySQL ---------------------------------------------------------------------------
#
# The client sends its TLS ClientHello right after the SSL request, without waiting
# for an answer, so an asyncio reader would swallow it before ``start_tls``. This
# peer therefore runs on blocking sockets in a thread, reading exactly what it needs.

CLIENT_LONG_PASSWORD = 0x1
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000


def _exactly(sock: socket.socket | ssl.SSLSocket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _mysql_handshake(version: str, tls: bool) -> bytes:
    capabilities = (
        CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41
        | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | (CLIENT_SSL if tls else 0)
    )  # fmt: skip
    return (
        b"\x0a" + version.encode()[:200] + b"\0" + struct.pack("<I", 7) + b"12345678\0"
        + struct.pack("<H", capabilities & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
        + struct.pack("<H", capabilities >> 16) + b"\x15" + b"\0" * 10
        + b"123456789012\0" + b"mysql_native_password\0"
    )  # fmt: skip


_MYSQL_OK = b"\x00\x00\x00" + struct.pack("<HH", 2, 0)
_MYSQL_EOF = b"\xfe" + struct.pack("<HH", 0, 2)


def _lenenc(data: bytes) -> bytes:
    if len(data) < 251:
        return bytes([len(data)]) + data
    return b"\xfc" + struct.pack("<H", len(data)) + data


def _mysql_result(value: str) -> list[bytes]:
    """A one-column, one-row text result set: count, definition, EOF, row, EOF."""
    definition = (
        b"".join(_lenenc(part) for part in (b"def", b"", b"", b"", b"VERSION()", b""))
        + b"\x0c" + struct.pack("<HIBHB", 33, 1024, 0xFD, 0, 31) + b"\0\0"
    )  # fmt: skip
    return [b"\x01", definition, _MYSQL_EOF, _lenenc(value.encode()), _MYSQL_EOF]


@dataclass
class MysqlPeer:
    """Handshake (version echoing), TLS, clear-password switch, then ERR 1045 echoing."""

    echo: str
    tls: ssl.SSLContext | None
    accept: bool = False
    sent: list[bytes] = field(default_factory=list)
    reached_auth: bool = False
    port: int = 0

    def sent_text(self) -> bytes:
        return b"".join(self.sent)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[MysqlPeer]:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        stop = threading.Event()
        thread = threading.Thread(target=self._accept, args=(listener, stop), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 10)
            listener.close()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(Exception), connection:
                connection.settimeout(10)
                self._converse(connection)

    def _send(self, sock: socket.socket | ssl.SSLSocket, sequence: int, payload: bytes) -> None:
        packet = len(payload).to_bytes(3, "little") + bytes([sequence % 256]) + payload
        self.sent.append(packet)
        sock.sendall(packet)

    def _read(self, sock: socket.socket | ssl.SSLSocket) -> tuple[int, bytes]:
        header = _exactly(sock, 4)
        return header[3], _exactly(sock, int.from_bytes(header[:3], "little"))

    def _converse(self, raw: socket.socket) -> None:
        sock: socket.socket | ssl.SSLSocket = raw
        self._send(sock, 0, _mysql_handshake(f"8.0.36-{one_line(self.echo)}", bool(self.tls)))
        sequence, payload = self._read(sock)
        if len(payload) == 32 and self.tls is not None:  # an SSL request, then TLS
            sock = self.tls.wrap_socket(raw, server_side=True)
            sequence, payload = self._read(sock)
        if self.tls is not None:  # over TLS, ask for the password itself
            self._send(sock, sequence + 1, b"\xfe" + b"mysql_clear_password\0" + b"\0")
            sequence, payload = self._read(sock)
        self.reached_auth = True
        heard = payload.rstrip(b"\0").decode("utf-8", "replace")
        if self.accept:
            self._send(sock, sequence + 1, _MYSQL_OK)
            self._answer_queries(sock, one_line(f"8.0.36-{self.echo} {heard}"))
            return
        message = one_line(f"Access denied for user {self.echo} (using password: {heard})")
        error = b"\xff" + struct.pack("<H", 1045) + b"#28000" + message.encode()
        self._send(sock, sequence + 1, error)

    def _answer_queries(self, sock: socket.socket | ssl.SSLSocket, version: str) -> None:
        """Every ``SELECT`` answered with one row holding ``version``; anything else OK."""
        while True:
            _, payload = self._read(sock)
            if payload[:1] == b"\x01":  # COM_QUIT
                return
            if payload[:1] == b"\x03" and payload[1:].lstrip().upper().startswith(b"SELECT"):
                for number, packet in enumerate(_mysql_result(version), start=1):
                    self._send(sock, number, packet)
            else:
                self._send(sock, 1, _MYSQL_OK)


# Redis ---------------------------------------------------------------------------


async def _resp_command(session: Session) -> list[str]:
    line = await session.read_line()
    if not line.startswith(b"*"):
        return line.decode("utf-8", "replace").split()
    arguments = []
    for _ in range(int(line[1:])):
        size = int((await session.read_line())[1:])
        arguments.append((await session.read(size + 2))[:-2].decode("utf-8", "replace"))
    return arguments


def _bulk(text: str) -> bytes:
    data = text.encode()
    return b"$" + str(len(data)).encode() + b"\r\n" + data + b"\r\n"


async def redis(session: Session) -> None:
    peer = session.peer
    while True:
        command = await _resp_command(session)
        verb = command[0].upper() if command else ""
        echo = one_line(f"{peer.echo} {' '.join(command)}")
        if verb == "AUTH":
            peer.reached_auth = True
            if not peer.accept:
                await session.send_line(f"-WRONGPASS invalid username-password pair {echo}")
                continue
            await session.send_line("+OK")
        elif verb == "PING":
            await session.send_line("+PONG")
        elif verb == "INFO":
            info = f"# Server\r\nredis_version:7.2.4-{echo}\r\nredis_mode:{echo}\r\n"
            await session.send(_bulk(info))
        elif verb in ("SELECT", "CLIENT"):
            await session.send_line("+OK")
        elif verb == "QUIT":
            await session.send_line("+OK")
            return
        else:
            await session.send_line(f"-ERR unknown command {echo}")


# SMTP ----------------------------------------------------------------------------


def _decoded(text: str) -> str:
    with contextlib.suppress(ValueError):
        return base64.b64decode(text, validate=True).decode("utf-8", "replace")
    return text


async def smtp(session: Session) -> None:
    peer = session.peer
    await session.send_line(f"220 reflector ESMTP {one_line(peer.echo)}")
    while True:
        line = (await session.read_line()).decode("utf-8", "replace").strip()
        verb, _, argument = line.partition(" ")
        echo = one_line(f"{peer.echo} {_decoded(argument.split(' ')[-1])} {line}")
        match verb.upper():
            case "EHLO" | "HELO":
                await session.send_line(f"250-reflector greets {echo}")
                await session.send_line("250-AUTH PLAIN LOGIN")
                await session.send_line(f"250 HELP {echo}")
            case "AUTH":
                peer.reached_auth = True
                if argument.upper().startswith("LOGIN"):
                    await session.send_line("334 VXNlcm5hbWU6")
                    user = (await session.read_line()).decode().strip()
                    await session.send_line("334 UGFzc3dvcmQ6")
                    password = (await session.read_line()).decode().strip()
                    echo = one_line(f"{echo} {_decoded(user)} {_decoded(password)}")
                code = "235 2.7.0 Accepted" if peer.accept else "535 5.7.8 Bad credentials"
                await session.send_line(f"{code} {echo}")
            case "QUIT":
                await session.send_line(f"221 2.0.0 Bye {echo}")
                return
            case _:
                await session.send_line(f"500 5.5.2 What is {echo}")


# IMAP ----------------------------------------------------------------------------


async def _imap_line(session: Session) -> str:
    """A command line, with any ``{n}`` literals it announces read inline."""
    text = (await session.read_line()).decode("utf-8", "replace").rstrip("\r\n")
    while text.endswith("}") and "{" in text:
        size = int(text[text.rindex("{") + 1 : -1].rstrip("+"))
        await session.send_line(f"+ go ahead {one_line(session.peer.echo)}")
        literal = (await session.read(size)).decode("utf-8", "replace")
        rest = (await session.read_line()).decode("utf-8", "replace").rstrip("\r\n")
        text = f"{text[: text.rindex('{')]}{literal}{rest}"
    return text


async def imap(session: Session) -> None:
    peer = session.peer
    await session.send_line(f"* OK [CAPABILITY IMAP4rev1] reflector {one_line(peer.echo)}")
    while True:
        line = await _imap_line(session)
        tag, _, rest = line.partition(" ")
        verb = rest.split(" ", 1)[0].upper()
        echo = one_line(f"{peer.echo} {line}")
        if verb == "CAPABILITY":
            await session.send_line("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
            await session.send_line(f"{tag} OK {echo}")
        elif verb in ("LOGIN", "AUTHENTICATE"):
            peer.reached_auth = True
            answer = "OK [CAPABILITY IMAP4rev1]" if peer.accept else "NO [AUTHENTICATIONFAILED]"
            await session.send_line(f"{tag} {answer} {echo}")
        elif verb == "LOGOUT":
            await session.send_line(f"* BYE {echo}")
            await session.send_line(f"{tag} OK {echo}")
            return
        else:
            await session.send_line(f"{tag} BAD {echo}")


# TCP -----------------------------------------------------------------------------


async def tcp_banner(session: Session) -> None:
    """A TLS banner holding the echo and the PEM of the client certificate received."""
    peer = session.peer
    ssl_object = session.writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    peer.reached_auth = der is not None
    client = ssl.DER_cert_to_PEM_cert(der) if der else ""
    await session.send_line(f"220 {one_line(peer.echo)} client={one_line(client)}")
    with contextlib.suppress(Exception):
        await session.read_line()
