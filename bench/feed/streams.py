"""The streams' side: ``count`` SSE clients on one session, each noting when each event
id reached it (``time.monotonic``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class StreamClient:
    arrivals: dict[int, float] = field(default_factory=dict)
    opened: asyncio.Event = field(default_factory=asyncio.Event)


async def follow(
    session: aiohttp.ClientSession, url: str, token: str, client: StreamClient
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with session.get(url, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"stream refused: {response.status}")
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("retry:"):
                client.opened.set()
            elif line.startswith("id: "):
                client.arrivals[int(line[4:])] = time.monotonic()


async def open_streams(
    session: aiohttp.ClientSession, url: str, token: str, count: int
) -> tuple[list[StreamClient], list[asyncio.Task[None]]]:
    clients = [StreamClient() for _ in range(count)]
    tasks = [asyncio.create_task(follow(session, url, token, client)) for client in clients]
    return clients, tasks
