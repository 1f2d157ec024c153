"""Clients that read while faults happen: the I5 observers and the API prober.

``Poller`` calls a read every ``interval`` seconds until stopped and keeps what
it saw; a read that fails (the database is away) is counted, not fatal. The
interval is a sampling cadence, not a wait for an effect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.tables import connections
from faultkit.checker import ReadLog

Read = Callable[[], Awaitable[int | None]]


class Poller:
    def __init__(self, name: str, read: Read, interval: float = 0.02) -> None:
        self.name = name
        self._read = read
        self._interval = interval
        self.values: list[int] = []
        self.errors: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Poller:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> ReadLog:
        """Stop polling (idempotent); what was read."""
        self._stop.set()
        if self._task is not None:
            await self._task
        return ReadLog(self.name, self.values)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = await self._read()
            except Exception as error:
                self.errors[type(error).__name__] += 1
            else:
                if value is not None:
                    self.values.append(value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)


def database_version(engine: AsyncEngine, connection_id: str) -> Read:
    """Read the connection's version from the projection table."""

    async def read() -> int | None:
        async with engine.connect() as connection:
            version = (
                await connection.execute(
                    select(connections.c.version).where(connections.c.id == connection_id)
                )
            ).scalar_one_or_none()
        return None if version is None else int(version)

    return read


def api_version(session: aiohttp.ClientSession, base: str, connection_id: str) -> Read:
    """Read the connection's version through ``GET /api/connections/{id}``."""

    async def read() -> int | None:
        async with session.get(f"{base}/api/connections/{connection_id}") as response:
            if response.status == 404:
                return None
            response.raise_for_status()
            return int((await response.json())["version"])

    return read


def api_status(session: aiohttp.ClientSession, url: str) -> Read:
    """The HTTP status of ``GET url``: the API prober's reading."""

    async def read() -> int | None:
        async with session.get(url) as response:
            await response.read()
            return response.status

    return read
