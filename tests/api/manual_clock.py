"""A monotonic clock the test moves by hand, and a counter of the SQL an engine runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


class ManualClock:
    """Seconds; only ``advance`` moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def counted_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside, but BEGIN (SQLite's explicit starts)."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if statement.strip().upper() != "BEGIN":
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
