"""Engines and schema migrations, the same for PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, literal, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from connmgr.storage import json_codec

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_WRITE_OPTION = "connmgr_write"
_MIGRATION_LOCK = 0x636F6E6E6D677200
POOL_RECYCLE_S = 1800
"""Pooled server connections older than this are replaced at checkout (idle timeouts)."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(
    url: str, *, pool_size: int = 5, max_overflow: int = 10, pre_ping: bool = True
) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout.

    ``max_overflow`` server connections may be opened beyond ``pool_size`` under load;
    each is closed again at check-in, so a steady load above ``pool_size`` pays a new
    server connection (a backend process, a handshake) per checkout. A busy server
    (the read API) sizes ``pool_size`` for its load and sets ``max_overflow`` to 0:
    requests then wait for a pooled connection instead.

    ``pre_ping`` tests each server connection at checkout (a round trip per checkout).
    Without it a connection the server dropped fails its first statement with a
    ``DBAPIError`` whose ``connection_invalidated`` is true, and the pool then replaces
    every connection older than the failure: a caller that cannot afford the ping
    (the read API) answers that failure with a 503 instead.
    """
    if not is_sqlite(url):
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=pre_ping,
            pool_recycle=POOL_RECYCLE_S,
            json_serializer=json_codec.dumps,
            json_deserializer=json_codec.loads,
        )
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30},
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
    )
    event.listen(engine.sync_engine, "connect", _configure_sqlite)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # Writers take SQLite's write lock at BEGIN, so two writers never deadlock upgrading
    # a read lock; readers begin deferred and never wait for a writer (WAL).
    if connection.get_execution_options().get(_WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that will write: on SQLite it holds the write lock from its start."""
    async with engine.connect() as connection:
        await connection.execution_options(**{_WRITE_OPTION: True})
        async with connection.begin():
            yield connection


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read transaction whose statements all see one snapshot of the database.

    PostgreSQL's READ COMMITTED gives each statement its own snapshot, so a read made
    of two statements can see a row moved between tables twice, or not at all: this
    one is REPEATABLE READ there. SQLite in WAL mode holds one snapshot for a
    transaction from its first read."""
    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            yield connection


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers ``SELECT 1``.

    A pooled connection the server dropped (a database restart) is no sign of an
    absent database: its failure invalidates the pool's old connections, and the
    question is asked once more, on a fresh one."""
    try:
        await _select_one(engine)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        await _select_one(engine)


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(select(literal(1)))


def autocommit_reads(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` for single-statement reads: on PostgreSQL without BEGIN and ROLLBACK.

    Under READ COMMITTED a statement takes its own snapshot even in a transaction, so a
    lone SELECT in autocommit returns the same rows and saves two round trips. Shares
    ``engine``'s pool (dispose ``engine``); never write through it. SQLite (in process,
    no round trips) gets ``engine`` itself.
    """
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def migrate(engine: AsyncEngine) -> frozenset[str]:
    """Bring the schema to the newest migration (idempotent); returns the revisions
    this call applied (none when another replica or an earlier start did)."""
    async with write_transaction(engine) as connection:
        return await migrate_in(connection)


async def migrate_in(connection: AsyncConnection) -> frozenset[str]:
    """``migrate`` within the caller's write transaction, which may go on to write."""
    if connection.dialect.name != "sqlite":
        # Replicas starting together migrate one at a time.
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
        )
    return await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> frozenset[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    before = MigrationContext.configure(connection).get_current_revision()
    command.upgrade(config, "head")
    applied = ScriptDirectory.from_config(config).iterate_revisions("head", before)
    return frozenset(revision.revision for revision in applied)
