"""Throw-away PostgreSQL databases on the machine's server, one per use.

Each is created from ``template0`` (never locked by a connected user, so
concurrent test runs do not collide) under a random ``connmgr_test_<hex>`` name,
and dropped afterwards with its connections terminated first.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import create_engine, migrate
from support.services import POSTGRES_ADMIN_DSN
from support.waiting import wait_for

POSTGRES_URL_PREFIX: Final = "postgresql+asyncpg://postgres@127.0.0.1:5432/"
DATABASE_NAME_PREFIX: Final = "connmgr_test_"


def sqlite_url_in(folder: Path) -> str:
    """The SQLAlchemy async URL of a SQLite file ``connmgr.db`` in ``folder``."""
    return f"sqlite+aiosqlite:///{folder.resolve() / 'connmgr.db'}"


@asynccontextmanager
async def temporary_postgres_database() -> AsyncIterator[str]:
    """Create an empty database, yield its SQLAlchemy async URL, drop it on exit."""
    name = f"{DATABASE_NAME_PREFIX}{secrets.token_hex(8)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    try:
        yield f"{POSTGRES_URL_PREFIX}{name}"
    finally:
        await drop_postgres_database(name)


async def drop_postgres_database(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def postgres_role(database: str) -> AsyncIterator[str]:
    """A login role that may connect to ``database`` and create in its ``public``
    schema, but not create in the database itself (no extensions); dropped on exit."""
    role = f"{DATABASE_NAME_PREFIX}role_{secrets.token_hex(4)}"
    await _on(POSTGRES_ADMIN_DSN, f'CREATE ROLE "{role}" LOGIN',
              f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')  # fmt: skip
    in_database = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    try:
        await _on(in_database, f'GRANT ALL ON SCHEMA public TO "{role}"')
        yield role
    finally:
        await _on(in_database, f'DROP OWNED BY "{role}" CASCADE')
        await _on(POSTGRES_ADMIN_DSN, f'REVOKE ALL ON DATABASE "{database}" FROM "{role}"',
                  f'DROP ROLE "{role}"')  # fmt: skip


async def grant_create(database: str, role: str) -> None:
    await _on(POSTGRES_ADMIN_DSN, f'GRANT CREATE ON DATABASE "{database}" TO "{role}"')


async def postgres_tables(database: str) -> list[str]:
    """The tables of ``database``'s ``public`` schema, by name."""
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}")
    try:
        rows = await admin.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
    finally:
        await admin.close()
    return [row[0] for row in rows]


async def _on(dsn: str, *statements: str) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await admin.execute(statement)
    finally:
        await admin.close()


@asynccontextmanager
async def migrated_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on ``database_url`` with the schema migrated; disposed on exit."""
    engine = create_engine(database_url)
    await migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def drop_server_connections(database: str) -> None:
    """Terminate every server connection to ``database``, as a database restart would."""
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        others = "datname = $1 AND pid <> pg_backend_pid()"
        await admin.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {others}", database
        )

        async def gone() -> bool:
            count = await admin.fetchval(
                f"SELECT count(*) FROM pg_stat_activity WHERE {others}", database
            )
            return bool(count == 0)

        await wait_for(gone, message="the terminated connections did not go away")
    finally:
        await admin.close()
