"""``database.autocommit_reads``: lone statements outside a transaction on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import autocommit_reads


async def test_autocommit_reads_run_each_statement_outside_a_transaction(
    engine: AsyncEngine,
) -> None:
    reads = autocommit_reads(engine)
    if engine.dialect.name != "postgresql":
        assert reads is engine  # SQLite: in process, nothing to save
        return
    # Inside one transaction both statements get the same transaction id.
    xact_id = text("SELECT pg_current_xact_id()::text")
    async with reads.connect() as connection:
        first = (await connection.execute(xact_id)).scalar_one()
        second = (await connection.execute(xact_id)).scalar_one()

    assert second != first
