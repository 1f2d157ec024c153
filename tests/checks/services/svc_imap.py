"""A small IMAP4rev1 peer for the IMAP check's tests (asyncio, loopback only).

It implements what the check uses, the way RFC 3501 describes it: the greeting,
CAPABILITY (with STARTTLS and LOGINDISABLED when configured), STARTTLS, LOGIN
with quoted strings and literals, SELECT/EXAMINE with ``NONEXISTENT`` and
``NOPERM`` response codes, and LOGOUT. It records each login attempt and
whether it came over TLS, so tests can prove no password was sent in clear.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

_LITERAL = re.compile(rb"\{(\d+)\}$")
_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\S+)')


def tokenize(line: bytes) -> list[str]:
    words = []
    for quoted, atom in _TOKEN.findall(line):
        text = re.sub(rb"\\(.)", rb"\1", quoted) if quoted or not atom else atom
        words.append(text.decode("utf-8"))
    return words


@dataclass
class ImapPeer:
    users: dict[str, str]
    mailboxes: set[str] = field(default_factory=lambda: {"INBOX"})
    forbidden: set[str] = field(default_factory=set)
    starttls: ssl.SSLContext | None = None
    login_disabled_in_clear: bool = False
    greeting: str = "* OK [CAPABILITY IMAP4rev1] Dovecot ready."
    logins: list[tuple[str, str, bool]] = field(default_factory=list)
    examined: list[str] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await session.run()
        writer.close()


class _Session:
    def __init__(
        self, peer: ImapPeer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.peer = peer
        self.reader = reader
        self.writer = writer
        self.tls = writer.get_extra_info("sslcontext") is not None
        self.authenticated = False

    async def send(self, *lines: str) -> None:
        self.writer.write(b"".join(line.encode("utf-8") + b"\r\n" for line in lines))
        await self.writer.drain()

    async def words(self) -> list[str] | None:
        """One command's words; literals are acknowledged with ``+`` and read inline."""
        words: list[str] = []
        while line := await self.reader.readline():
            line = line.rstrip(b"\r\n")
            match = _LITERAL.search(line)
            if match is None:
                return words + tokenize(line)
            words += tokenize(line[: match.start()])
            await self.send("+ Ready for literal data")
            words.append((await self.reader.readexactly(int(match.group(1)))).decode("utf-8"))
        return None

    def capabilities(self) -> str:
        words = ["IMAP4rev1"]
        if self.peer.starttls is not None and not self.tls:
            words.append("STARTTLS")
        if self.peer.login_disabled_in_clear and not self.tls:
            words.append("LOGINDISABLED")
        return " ".join(words)

    async def run(self) -> None:
        await self.send(self.peer.greeting)
        while (words := await self.words()) is not None:
            if len(words) < 2:
                await self.send("* BAD missing command")
                continue
            tag, command, arguments = words[0], words[1].upper(), words[2:]
            if not await self.dispatch(tag, command, arguments):
                return

    async def dispatch(self, tag: str, command: str, arguments: list[str]) -> bool:
        if command == "CAPABILITY":
            await self.send(f"* CAPABILITY {self.capabilities()}", f"{tag} OK done")
        elif command == "STARTTLS" and "STARTTLS" in self.capabilities():
            await self.send(f"{tag} OK Begin TLS negotiation now")
            assert self.peer.starttls is not None
            await self.writer.start_tls(self.peer.starttls)
            self.tls = True
        elif command == "LOGIN" and len(arguments) == 2:
            await self.login(tag, *arguments)
        elif command in ("SELECT", "EXAMINE") and self.authenticated and len(arguments) == 1:
            await self.open_mailbox(tag, command, arguments[0])
        elif command == "LOGOUT":
            await self.send("* BYE Logging out", f"{tag} OK Logout completed")
            return False
        else:
            await self.send(f"{tag} BAD Error in IMAP command")
        return True

    async def login(self, tag: str, user: str, password: str) -> None:
        self.peer.logins.append((user, password, self.tls))
        if "LOGINDISABLED" in self.capabilities():
            await self.send(f"{tag} NO [PRIVACYREQUIRED] Login only over TLS")
        elif self.peer.users.get(user) == password:
            self.authenticated = True
            await self.send(f"{tag} OK [CAPABILITY IMAP4rev1] Logged in")
        else:
            await self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.")

    async def open_mailbox(self, tag: str, command: str, mailbox: str) -> None:
        self.peer.examined.append(mailbox)
        if mailbox in self.peer.forbidden:
            await self.send(f"{tag} NO [NOPERM] Permission denied")
        elif mailbox in self.peer.mailboxes:
            await self.send(
                r"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
                "* 2 EXISTS",
                "* 0 RECENT",
                "* OK [UIDVALIDITY 1700000000] UIDs valid",
                f"{tag} OK [READ-ONLY] {command} completed",
            )
        else:
            await self.send(f"{tag} NO [NONEXISTENT] Mailbox doesn't exist: {mailbox}")


@contextlib.asynccontextmanager
async def running(peer: ImapPeer, implicit: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0, ssl=implicit)
    peer.port = server.sockets[0].getsockname()[1]
    try:
        yield peer.port
    finally:
        server.close()
        await server.wait_closed()
