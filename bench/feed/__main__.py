"""The live-feed bench: one API process holding many event streams.

    .venv/bin/python -m bench.feed [--streams 1000] [--events 20] [--interval 0.5]

It starts a private nats-server, a fresh database ``connmgr_bench_<hex>`` (dropped
after) and ``connmgr api`` as a process of its own, issues one ``read`` token
(``CONNMGR_API_STREAMS_PER_TOKEN`` = ``--streams``), opens ``--streams`` streams of
``GET /api/events/stream`` from this process, then appends ``--events`` events to
the log one at a time (``--interval`` apart), each in its own transaction, as the
encryptor appends them. One ``name: value`` line per figure:

- ``api_rss_idle_mb``, ``api_rss_streams_mb``: the API's resident set (``VmRSS``)
  before the streams and with all of them open; ``api_rss_delta_mb`` the difference
  (the target: at most 100 MB for 1,000 streams);
- ``delivery_p50_ms`` / ``p99`` / ``max``: from an event's commit to its arrival on
  a stream, over every (stream, event) pair (the target: p99 within 1 s);
- ``deliveries_missing``: pairs that never arrived (should be 0);
- ``streams``, ``events``.

The clients run in the bench's own process, on the same 2 cores as the API: their
parsing is part of the measured delivery. Loopback only.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Final

import aiohttp

from bench.feed.options import Options, api_env, parse_options
from bench.feed.streams import StreamClient, open_streams
from bench.harness import (
    TENANT,
    BenchError,
    Stack,
    all_running,
    bench_main,
    figure,
    note,
    open_stack,
    percentile,
    phase,
    poll,
    rss_mb,
    start_api,
    wait_for,
)
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent
from connmgr.storage.tokens import issue_token

DELIVERY_DEADLINE_S: Final = 30.0


async def append_one(stack: Stack, stream_id: str, version: int) -> tuple[int, float]:
    """One event appended and committed; its position and the moment it committed."""
    event = PendingEvent(
        stream_id=stream_id,
        version=version,
        type="HealthStatusChanged",
        tenant=TENANT,
        data={"bench": True},
        metadata={"actor_id": "bench", "tenant": TENANT},
    )
    async with write_transaction(stack.engine) as connection:
        appender = await Appender.begin(connection)
        (stored,) = await appender.append([event])
        await appender.finish()
        await connection.commit()
    return stored.position, time.monotonic()


async def measure(stack: Stack, options: Options) -> None:
    base_url, api = await start_api(stack, api_env(options))
    token = await issue_token(stack.engine, "bench-feed", TENANT, ["read"])
    idle = rss_mb(api.pid)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        with phase(f"opening {options.streams} streams"):
            clients, tasks = await open_streams(
                session, f"{base_url}/api/events/stream", token, options.streams
            )

            async def opening() -> str | None:
                _raise_failures(tasks)
                opened = sum(client.opened.is_set() for client in clients)
                return None if opened == len(clients) else f"{opened} of {len(clients)} open"

            await wait_for(opening, all_running(api), 120)
        held = rss_mb(api.pid)
        commits = await _append_events(stack, options)

        async def delivering() -> str | None:
            _raise_failures(tasks)
            done = sum(len(client.arrivals) >= len(commits) for client in clients)
            return None if done == len(clients) else f"{done} of {len(clients)} streams complete"

        if (missing := await poll(delivering, all_running(api), DELIVERY_DEADLINE_S)) is not None:
            note(f"not every event arrived: {missing}")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    _figures(options, idle, held, clients, commits)


async def _append_events(stack: Stack, options: Options) -> dict[int, float]:
    stream_id = str(uuid.uuid4())
    commits: dict[int, float] = {}
    with phase(f"appending {options.events} events"):
        for version in range(1, options.events + 1):
            position, committed = await append_one(stack, stream_id, version)
            commits[position] = committed
            await asyncio.sleep(options.interval_s)
    return commits


def _figures(
    options: Options,
    idle: float,
    held: float,
    clients: list[StreamClient],
    commits: dict[int, float],
) -> None:
    delays = [
        (client.arrivals[position] - committed) * 1000
        for client in clients
        for position, committed in commits.items()
        if position in client.arrivals
    ]
    missing = len(clients) * len(commits) - len(delays)
    figure("api_rss_idle_mb", idle)
    figure("api_rss_streams_mb", held)
    figure("api_rss_delta_mb", held - idle)
    if delays:
        figure("delivery_p50_ms", percentile(delays, 0.50))
        figure("delivery_p99_ms", percentile(delays, 0.99))
        figure("delivery_max_ms", max(delays))
    figure("deliveries_missing", missing)
    figure("streams", options.streams)
    figure("events", options.events)
    if missing:
        note(f"{missing} (stream, event) pairs never arrived within {DELIVERY_DEADLINE_S:g}s")


def _raise_failures(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise BenchError(f"a stream failed: {task.exception()!r}")


async def run(options: Options) -> None:
    async with open_stack("feed") as stack:
        await measure(stack, options)


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main("feed", parse_options, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
