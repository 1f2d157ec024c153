"""The migrations build the schema ``storage/tables.py`` declares: the same tables and,
on each, the same named indexes, on both backends. The code reads ``tables.py``; the
databases get the migrations: an index declared in one and not the other would leave
a query planned for an index that is not there, or a write paying for one no read uses."""

from __future__ import annotations

from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.tables import metadata

Indexes = dict[str, set[str]]


def _migrated(connection: Connection) -> Indexes:
    inspector = inspect(connection)
    return {
        table: {
            index["name"]
            for index in inspector.get_indexes(table)
            # PostgreSQL lists the index behind each unique constraint too.
            if index["name"] and not index.get("duplicates_constraint")
        }
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def _declared(dialect: str) -> Indexes:
    """The named indexes of each table that the migrations build on ``dialect``."""
    return {
        name: {
            index.name
            for index in table.indexes
            if index.name and dialect in index.info.get("dialects", (dialect,))
        }
        for name, table in metadata.tables.items()
    }


async def test_the_migrated_tables_and_indexes_are_the_declared_ones(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        migrated = await connection.run_sync(_migrated)
    assert migrated == _declared(engine.dialect.name)
    assert "ix_connections_tenant_status_name" in migrated["connections"]  # not vacuous
    trigrams = "ix_connections_name_trigrams" in migrated["connections"]
    assert trigrams is (engine.dialect.name == "postgresql")
