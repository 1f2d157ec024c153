"""What a backend runs and how it plans it: for tests that a query searches an index.

``recorded_statements(engine)`` collects the ``(statement, parameters)`` pairs the
engine sends while it is open; ``query_plan(engine, statement, parameters)`` returns
the plan the backend chooses for one of them, as text. On PostgreSQL it is the
generic plan that prepared statements end up on, and ``index_if_possible`` turns
sequential scans off, so a table too small to be worth an index still shows whether
the query *could* search one; neither a fresh table on PostgreSQL nor one on SQLite
has statistics.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

Executed = list[tuple[str, Any]]


@contextmanager
def recorded_statements(engine: AsyncEngine) -> Iterator[Executed]:
    """Every ``(statement, parameters)`` the engine sends inside the block."""
    executed: Executed = []

    def record(*args: Any) -> None:
        executed.append((args[2], args[3]))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield executed
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def query_plan(
    engine: AsyncEngine, statement: str, parameters: Any, *, index_if_possible: bool = False
) -> str:
    """The plan the backend chooses for ``statement``, as text (see module)."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            if index_if_possible:
                await connection.exec_driver_sql("SET enable_seqscan = off")
            plan = (await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)).all()
            return "\n".join(str(line[0]) for line in plan)
        plan = (
            await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ).all()
        return "\n".join(str(line[-1]) for line in plan)
