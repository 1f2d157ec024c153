"""IMAP on the wire: tagged commands and replies, quoted strings, literals, mailbox names.

``ImapSession.command`` sends its arguments as quoted strings, or as literals
when they hold non-printable or non-ASCII characters, so no argument can
inject a command; a value with NUL, CR or LF is refused. Every reply is capped
in lines (``MAX_REPLY_LINES``) and bytes (``MAX_LINE_BYTES``, literals included).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.mail_channel import (
    MAX_LINE_BYTES,
    MAX_REPLY_LINES,
    LineChannel,
    ProtocolViolation,
)

_LITERAL = re.compile(r"\{(\d{1,9})\}$")
_TAGGED = re.compile(r"^(?P<status>OK|NO|BAD)(?: \[(?P<code>[A-Z-]+)[^\]]*\])?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Tagged:
    status: str
    code: str | None
    untagged: list[str]


class ImapSession:
    """Tagged commands over a line channel; every reply is capped in lines and bytes."""

    def __init__(self, channel: LineChannel) -> None:
        self.channel = channel
        self._tags = 0

    async def read_line(self) -> str:
        """One response line, with any literals it announces read inline (capped)."""
        line = await self.channel.read_line()
        while (match := _LITERAL.search(line)) is not None:
            size = int(match.group(1))
            if size + len(line) > MAX_LINE_BYTES:
                raise ProtocolViolation("literal too long")
            data = await self.channel.connection.reader.readexactly(size)
            line += data.decode("utf-8", errors="replace") + await self.channel.read_line()
        return line

    async def command(self, verb: str, *strings: str) -> Tagged:
        """Send ``verb`` with ``strings`` quoted (or as literals); await its tagged reply."""
        self._tags += 1
        tag = f"c{self._tags}"
        pending = f"{tag} {verb}"
        for value in strings:
            if (text := quoted(value)) is not None:
                pending += " " + text
                continue
            data = value.encode("utf-8")
            if b"\0" in data or b"\r" in data or b"\n" in data:
                raise CheckFailed(Outcome.CONFIG_ERROR, "a login value holds a forbidden character")
            await self.channel.send(f"{pending} {{{len(data)}}}\r\n".encode())
            await self._continuation(tag)
            await self.channel.send(data)
            pending = ""
        await self.channel.send(pending.encode("utf-8") + b"\r\n")
        return await self._tagged(tag)

    async def _continuation(self, tag: str) -> None:
        for _ in range(MAX_REPLY_LINES):
            line = await self.read_line()
            if line.startswith("+"):
                return
            if line.startswith(f"{tag} "):
                raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server refused a literal")
        raise ProtocolViolation("no continuation")

    async def _tagged(self, tag: str) -> Tagged:
        untagged: list[str] = []
        for _ in range(MAX_REPLY_LINES):
            line = await self.read_line()
            if not line.startswith(f"{tag} "):
                untagged.append(line)
                continue
            match = _TAGGED.match(line[len(tag) + 1 :])
            if match is None:
                raise ProtocolViolation("malformed tagged reply")
            code = match.group("code")
            return Tagged(match.group("status").upper(), code and code.upper(), untagged)
        raise ProtocolViolation("reply too long")

    async def capabilities(self) -> set[str]:
        reply = await self.command("CAPABILITY")
        if reply.status != "OK":
            raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server refused CAPABILITY")
        found = [line.upper().split() for line in reply.untagged]
        return {word for words in found if words[:2] == ["*", "CAPABILITY"] for word in words[2:]}


def quoted(value: str) -> str | None:
    """``value`` as an IMAP quoted string, or None when it needs a literal."""
    if not all(0x20 <= ord(char) <= 0x7E for char in value):
        return None
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_utf7(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            encoded = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    flush()
    return "".join(out)
