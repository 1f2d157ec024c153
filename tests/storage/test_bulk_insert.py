"""``insert_rows`` stores what an ``INSERT`` stores (``COPY`` on PostgreSQL), inside the
caller's transaction and savepoint, and refuses a row with SQLAlchemy's errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, Text, cast, insert, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.bulk_insert import insert_rows
from connmgr.storage.database import write_transaction
from connmgr.storage.tables import connections
from support.databases import migrated_engine
from support.fixture_types import NewPostgresUrl

MOMENT = datetime(2026, 12, 7, 3, 4, 5, 678901, tzinfo=UTC)


def connection_row(**changes: Any) -> dict[str, Any]:
    """A ``connections`` row with every kind of column: JSON documents, JSON ``None``,
    SQL ``NULL``, text with quotes and non-ASCII, times, integers and a boolean."""
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant": "acme",
        "name": "orders 'primary' — ü",
        "kind": "postgres",
        "template": None,
        "config": {"host": "db.internal", "port": 5432, "note": 'a "quoted" ü\n'},
        "auth": {"method": "basic", "username": "app"},
        "secrets": None,
        "health_check": {"enabled": True, "interval_s": 60.5, "tags": []},
        "tags": ["a", "b"],
        "description": "",
        "status": "unknown",
        "version": 3,
        "deleted": False,
        "created_at": MOMENT,
        "updated_at": MOMENT,
        "last_test": None,
        "status_since": None,
        "notify": None,
    }
    return row | changes


async def stored_as_text(engine: AsyncEngine, connection_id: str) -> dict[str, Any]:
    """The row as the database holds it: every column but the id, JSON as its text."""
    columns = [
        cast(column, Text).label(column.name) if column.name in JSON_COLUMNS else column
        for column in connections.columns
        if column.name != "id"
    ]
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(*columns).where(connections.c.id == connection_id))
        ).one()
    return dict(row._mapping)


JSON_COLUMNS = {"config", "auth", "secrets", "health_check", "tags", "last_test", "notify"}


async def test_rows_are_stored_byte_for_byte_as_an_insert_stores_them(engine: AsyncEngine) -> None:
    inserted, copied = connection_row(), connection_row()
    async with write_transaction(engine) as connection:
        await connection.execute(insert(connections), [inserted])
        await insert_rows(connection, connections, [copied, connection_row()])

    assert await stored_as_text(engine, copied["id"]) == await stored_as_text(
        engine, inserted["id"]
    )


async def test_a_row_breaking_a_key_raises_integrity_error_and_its_savepoint_alone_is_lost(
    engine: AsyncEngine,
) -> None:
    first, kept = connection_row(), connection_row()
    async with write_transaction(engine) as connection:
        await insert_rows(connection, connections, [first])
    async with write_transaction(engine) as connection:
        await insert_rows(connection, connections, [kept])
        with pytest.raises(IntegrityError):
            async with connection.begin_nested():
                await insert_rows(connection, connections, [connection_row(), first])
    async with engine.connect() as connection:
        stored = set((await connection.execute(select(connections.c.id))).scalars())
    assert stored == {first["id"], kept["id"]}


async def test_rows_written_first_in_a_transaction_are_rolled_back_with_it(
    engine: AsyncEngine,
) -> None:
    """The caller's transaction holds them, even when ``insert_rows`` is its first
    statement (asyncpg's transaction is begun by the adapter's first statement)."""

    async def write_then_fail() -> None:
        async with write_transaction(engine) as connection:
            await insert_rows(connection, connections, [connection_row()])
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        await write_then_fail()
    async with engine.connect() as connection:
        assert (await connection.execute(select(connections.c.id))).all() == []


async def test_no_rows_is_no_statement(engine: AsyncEngine) -> None:
    async with write_transaction(engine) as connection:
        await insert_rows(connection, connections, [])
    async with engine.connect() as connection:
        assert (await connection.execute(select(connections.c.id))).all() == []


@pytest.mark.parametrize(
    ("refused", "error"),
    [({"created_at": "not a time"}, DataError), ({"version": 2**40}, DataError),
     ({"kind": "x" * 40}, DataError), ({"name": None}, IntegrityError)],
)  # fmt: skip
async def test_a_value_its_column_refuses_raises_what_an_insert_raises_on_postgresql(
    fresh_pg_url: NewPostgresUrl, refused: dict[str, Any], error: type[DBAPIError]
) -> None:
    """SQLite takes any value in any typed column, so PostgreSQL only."""
    async with migrated_engine(await fresh_pg_url()) as engine:
        for write in (insert_rows, insert_statement):
            with pytest.raises(error):
                async with write_transaction(engine) as connection:
                    await write(connection, connections, [connection_row(**refused)])


async def insert_statement(
    connection: AsyncConnection, table: Table, rows: list[dict[str, Any]]
) -> None:
    await connection.execute(insert(table), rows)
