"""Handled commands: one row per command id, the exactly-once guarantee (RELIABILITY.md I2).

The row is written in the same transaction as the command's events, so a
redelivered or re-published command finds it and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.tables import handled_commands


async def find_outcome(connection: AsyncConnection, command_id: str) -> CommandOutcome | None:
    row = (
        await connection.execute(
            select(handled_commands.c.outcome).where(handled_commands.c.command_id == command_id)
        )
    ).one_or_none()
    return None if row is None else CommandOutcome.model_validate(row.outcome)


async def record_outcome(connection: AsyncConnection, tenant: str, outcome: CommandOutcome) -> None:
    await connection.execute(
        insert(handled_commands).values(
            command_id=str(outcome.command_id),
            connection_id=str(outcome.connection_id),
            tenant=tenant,
            outcome=outcome.model_dump(mode="json"),
            handled_at=datetime.now(UTC),
        )
    )
