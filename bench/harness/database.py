"""The run's PostgreSQL database: a fresh one per run, and what the benches read of it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness.processes import Check
from bench.harness.waiting import wait_for
from connmgr.schemas.bus.consumers import RELAY_CHECKPOINT
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.relay_checkpoint import read_checkpoint
from connmgr.storage.tables import connections, events

POSTGRES_ADMIN_DSN: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL_PREFIX: Final = "postgresql+asyncpg://postgres@127.0.0.1:5432/"
DATABASE_PREFIX: Final = "connmgr_bench_"


@asynccontextmanager
async def temporary_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database ``connmgr_bench_<hex>``: its async URL; dropped on exit."""
    name = f"{DATABASE_PREFIX}{secrets.token_hex(6)}"
    await _admin(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    try:
        yield f"{POSTGRES_URL_PREFIX}{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def migrated_database() -> AsyncIterator[tuple[str, AsyncEngine]]:
    """``temporary_database`` brought to the newest schema: its URL and an engine on it
    (disposed, then the database dropped, on exit)."""
    async with temporary_database() as url:
        engine = create_engine(url)
        try:
            await migrate(engine)
            yield url, engine
        finally:
            await engine.dispose()


async def _admin(statement: str) -> None:
    """One statement on the server's ``postgres`` database (outside any transaction)."""
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def count_rows(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def log_head(engine: AsyncEngine) -> int:
    """The position of the last event in the log (0 when it is empty)."""
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.max(events.c.position))) or 0)


async def wait_for_rows(
    engine: AsyncEngine, target: int, check: Check, timeout_s: float, table: Table = connections
) -> None:
    """Until the projection (``table``, connmgr's by default) holds ``target`` connections."""

    async def visible() -> str | None:
        seen = await count_rows(engine, table)
        return None if seen >= target else f"{seen} of {target} connections visible"

    await wait_for(visible, check, timeout_s)


async def wait_for_relay(engine: AsyncEngine, check: Check, timeout_s: float = 120.0) -> None:
    """Until the relay's checkpoint reaches the end of the log (it starts from the beginning)."""

    async def caught_up() -> str | None:
        head = await log_head(engine)
        async with engine.connect() as connection:
            relayed = await read_checkpoint(connection, RELAY_CHECKPOINT)
        return None if relayed >= head else f"the relay is at {relayed} of {head}"

    await wait_for(caught_up, check, timeout_s)
