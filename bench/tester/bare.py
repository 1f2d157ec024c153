"""The baseline: a bare client loop doing the connects a test does, at the same concurrency.

Each operation opens a new connection, asks one thing and closes, as a check
does, with the client libraries the checks use and nothing of connmgr around
them (no NATS, no database, no egress policy, no secrets):

- ``postgres``: ``asyncpg.connect`` (no TLS, as the bench's connections) +
  ``SELECT 1`` + close;
- ``redis``: a new ``redis.asyncio.Redis`` client + ``PING`` + close;
- ``http``: a new ``aiohttp.ClientSession`` (so a new connection) + ``GET`` + close.

``concurrency`` workers share one queue of operations; each operation is timed
from its start to its close, like a check's ``latency_ms``. A failed operation
is counted, not raised.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import redis.asyncio as redis

from bench.harness import HOST, cpu_seconds, note
from bench.tester.load import PassFigures

TIMEOUT_S: Final = 5.0
Operation = Callable[[], Awaitable[None]]


async def postgres_once() -> None:
    connection = await asyncpg.connect(
        host=HOST, port=5432, user="postgres", password="bench", database="test",
        ssl=False, timeout=TIMEOUT_S,
    )  # fmt: skip
    try:
        if await connection.fetchval("SELECT 1") != 1:
            raise RuntimeError("SELECT 1 answered wrongly")
    finally:
        await connection.close()


async def redis_once() -> None:
    client = redis.Redis(host=HOST, port=6379, socket_connect_timeout=TIMEOUT_S)
    try:
        if not await client.ping():
            raise RuntimeError("no PONG")
    finally:
        await client.aclose()


def http_once(url: str) -> Operation:
    async def get() -> None:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url) as response,
        ):
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")

    return get


def operations(http_url: str) -> dict[str, Operation]:
    return {"postgres": postgres_once, "redis": redis_once, "http": http_once(http_url)}


@dataclass
class _Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_types: Counter[str] = field(default_factory=Counter)


async def bare_loop(
    ops: dict[str, Operation], kinds: Sequence[str], count: int, concurrency: int
) -> PassFigures:
    """``count`` operations round-robin over ``kinds``, ``concurrency`` at a time."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(kinds[index % len(kinds)])
    tally = _Tally()

    async def worker() -> None:
        while not queue.empty():
            kind = queue.get_nowait()
            began = time.perf_counter()
            try:
                await ops[kind]()
            except Exception as error:
                tally.errors[kind] = tally.errors.get(kind, 0) + 1
                tally.error_types[f"{kind} {type(error).__name__}"] += 1
            elapsed_ms = (time.perf_counter() - began) * 1000
            tally.latencies_ms.setdefault(kind, []).append(elapsed_ms)

    cpu_before, started = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    if tally.error_types:
        note(f"bare loop failures: {dict(tally.error_types)}")
    return PassFigures(count, elapsed, cpu, tally.latencies_ms, tally.errors)
