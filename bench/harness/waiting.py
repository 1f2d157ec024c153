"""Waiting for an effect with a deadline, never sleeping for it.

``wait_for`` polls and checks on every round that the children still live, so a
crashed worker ends the run with its log's tail; past the deadline it raises.
``poll`` is the same loop for a wait that may run out: it says what is still
missing and the bench goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Final

import aiohttp

from bench.harness.errors import BenchError
from bench.harness.processes import Check, ChildProcess

POLL_S: Final = 0.05

Pending = Callable[[], Awaitable[str | None]]


async def poll(
    pending: Pending, check: Check, timeout_s: float, poll_s: float = POLL_S
) -> str | None:
    """Poll until ``pending()`` answers ``None`` (done: ``None``) or ``timeout_s`` has
    passed (what it answered last: what is still missing); ``check`` runs on every
    round, so a child that died ends the wait at once."""
    deadline = time.monotonic() + timeout_s
    while (missing := await pending()) is not None:
        check()
        if time.monotonic() > deadline:
            return missing
        await asyncio.sleep(poll_s)
    return None


async def wait_for(
    pending: Pending, check: Check, timeout_s: float, poll_s: float = POLL_S
) -> None:
    """``poll``, and ``BenchError`` saying what is missing once ``timeout_s`` has passed."""
    if (missing := await poll(pending, check, timeout_s, poll_s)) is not None:
        raise BenchError(f"{missing} after {timeout_s:.0f}s")


async def wait_until_http_ok(url: str, child: ChildProcess, timeout_s: float = 30.0) -> None:
    """Until ``url`` answers 200; ``BenchError`` when the child dies or time runs out."""
    async with aiohttp.ClientSession() as session:

        async def answering() -> str | None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as response:
                    if response.status == 200:
                        return None
            return f"{child.name} does not answer {url}"

        await wait_for(answering, child.check_running, timeout_s)
