"""Rewriting the log as an attacker with full database rights could, despite the triggers."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def tamper(engine: AsyncEngine, statement: str) -> None:
    """Run ``statement`` on ``events`` with its append-only triggers out of the way."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await connection.execute(text("DROP TRIGGER IF EXISTS events_no_update"))
            await connection.execute(text("DROP TRIGGER IF EXISTS events_no_delete"))
        await connection.execute(text(statement))
