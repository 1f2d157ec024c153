"""When a starting nats-server (``nats_server.NatsServer``) is ready, and the error when not.

``wait_until_ready`` polls the process until it announces its port in its ports file
and completes a client handshake there announcing JetStream; a process that exits
first, or does not answer within the timeout, is a ``NatsServerError`` with the tail
of its log. The server listens on ``HOST``, loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

HOST: Final = "127.0.0.1"
_POLL_INTERVAL_S: Final = 0.02
_PROBE_TIMEOUT_S: Final = 1.0


class NatsServerError(RuntimeError):
    """The server could not start, did not become ready, or is not running."""


async def wait_until_ready(
    process: subprocess.Popen[bytes],
    ports_file: Path,
    timeout_s: float,
    log_tail: Callable[[], str],
) -> int:
    """The port ``process`` answers on with JetStream, once it does; ``NatsServerError``
    with ``log_tail()`` if it exits first or does not answer within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if (code := process.poll()) is not None:
            raise NatsServerError(
                f"nats-server exited with code {code} while starting; its log ends with:\n"
                f"{log_tail()}"
            )
        # The ports file names our pid: a server already on a requested port
        # must not pass for this one.
        port = announced_port(ports_file)
        if port is not None and await _answers_with_jetstream(port):
            return port
        if time.monotonic() > deadline:
            raise NatsServerError(
                f"nats-server did not answer within {timeout_s}s; its log ends with:\n{log_tail()}"
            )
        await asyncio.sleep(_POLL_INTERVAL_S)


def announced_port(ports_file: Path) -> int | None:
    """The port written to the ports file, or None while the file is not there."""
    try:
        announced = json.loads(ports_file.read_text())
        return int(announced["nats"][0].rsplit(":", 1)[1])
    except (OSError, ValueError, LookupError):
        return None


async def _answers_with_jetstream(port: int) -> bool:
    """True when the server greets with JetStream enabled and answers a PING.

    With authentication configured the greeting is the answer: an anonymous
    client may not send PING.
    """
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(HOST, port)
            try:
                info = await reader.readline()
                if b'"auth_required":true' in info:
                    return _announces_jetstream(info)
                writer.write(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
                await writer.drain()
                pong = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return False
    return _announces_jetstream(info) and pong.strip() == b"PONG"


def _announces_jetstream(info: bytes) -> bool:
    return info.startswith(b"INFO ") and b'"jetstream":true' in info
