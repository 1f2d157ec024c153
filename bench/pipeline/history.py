"""A write path that has run a while: commands already handled, before the write runs.

Every command the encryptor handles leaves a row in ``handled_commands`` (the
exactly-once record, kept for good), and every batch looks its commands up there. A
fresh database hides what that lookup costs once the table is large, so
``--history N`` stores ``N`` handled commands of the bench's tenant first (server
side, ``generate_series``), then ``ANALYZE``s the table as autovacuum would. The
floor's schema is left as it is: the floor looks up no earlier outcome.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import figure, phase

_PREFILL = text(
    "INSERT INTO handled_commands (command_id, connection_id, tenant, outcome, handled_at) "
    "SELECT gen_random_uuid()::text, NULL, :tenant, "
    '\'{"outcome": "accepted"}\'::json, now() '
    "FROM generate_series(1, :count)"
)


async def store_history(engine: AsyncEngine, tenant: str, count: int) -> None:
    """``count`` handled commands of ``tenant`` in ``handled_commands`` (PostgreSQL)."""
    figure("history_handled_commands", count)
    if not count:
        return
    with phase(f"storing {count} handled commands"):
        async with engine.begin() as connection:
            await connection.execute(_PREFILL, {"tenant": tenant, "count": count})
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("ANALYZE handled_commands"))
