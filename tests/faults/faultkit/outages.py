"""Faults that must *last*: PostgreSQL unavailable to one test database for a while.

``hold_fault_for(seconds)`` is the harness's only timed wait. A fault such as
"the database is gone for 20 s" has a duration as its very point: there is no
effect to poll for. Every other wait polls with a deadline (``wait_for``).

Outages touch the test's own database only, through an admin session on the
``postgres`` database; the machine's server keeps serving everyone else:

- ``terminate``: every session on the database is cut (``pg_terminate_backend``)
  again and again for the whole outage; clients reconnect and are cut again;
- ``refuse``: ``ALLOW_CONNECTIONS false`` and the sessions cut, held, then
  ``ALLOW_CONNECTIONS true`` again, restored even when the test fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, Literal

import asyncpg  # type: ignore[import-untyped]

from support.databases import DATABASE_NAME_PREFIX
from support.services import POSTGRES_ADMIN_DSN

OutageMode = Literal["terminate", "refuse"]
TERMINATE_EVERY_S: Final = 0.2


async def hold_fault_for(seconds: float) -> None:
    """Keep a fault in force for ``seconds``: its duration is the fault itself."""
    await asyncio.sleep(seconds)


def _own(database: str) -> str:
    if not database.startswith(DATABASE_NAME_PREFIX):
        raise ValueError(f"refusing to disturb {database!r}: not a test database")
    return database


async def terminate_sessions(admin: asyncpg.Connection, database: str) -> int:
    """Cut every session on ``database`` but the caller's; returns how many were cut."""
    cut = await admin.fetchval(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = $1 AND pid <> pg_backend_pid()",
        _own(database),
    )
    return int(cut or 0)


@asynccontextmanager
async def _admin() -> AsyncIterator[asyncpg.Connection]:
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        yield admin
    finally:
        await admin.close()


@asynccontextmanager
async def refusing_connections(database: str) -> AsyncIterator[None]:
    """While inside, ``database`` accepts no connection and has no session."""
    quoted = '"' + _own(database) + '"'
    async with _admin() as admin:
        await admin.execute(f"ALTER DATABASE {quoted} ALLOW_CONNECTIONS false")
        try:
            await terminate_sessions(admin, database)
            yield
        finally:
            await admin.execute(f"ALTER DATABASE {quoted} ALLOW_CONNECTIONS true")


async def postgres_outage(database: str, seconds: float, mode: OutageMode) -> int:
    """Make ``database`` unavailable for ``seconds``; returns the sessions cut."""
    if mode == "refuse":
        async with refusing_connections(database):
            await hold_fault_for(seconds)
        return 0
    cut = 0
    deadline = time.monotonic() + seconds
    async with _admin() as admin:
        while time.monotonic() < deadline:
            cut += await terminate_sessions(admin, database)
            await hold_fault_for(TERMINATE_EVERY_S)
    return cut
