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


async def find_outcomes(
    connection: AsyncConnection, command_ids: list[str]
) -> dict[str, CommandOutcome]:
    """The recorded outcomes of any of these command ids, in one query."""
    if not command_ids:
        return {}
    rows = await connection.execute(
        select(handled_commands.c.command_id, handled_commands.c.outcome).where(
            handled_commands.c.command_id.in_(command_ids)
        )
    )
    return {row.command_id: CommandOutcome.model_validate(row.outcome) for row in rows}


async def record_outcomes(
    connection: AsyncConnection, outcomes: list[tuple[str, CommandOutcome]]
) -> None:
    """Record many ``(tenant, outcome)`` pairs in one statement."""
    if not outcomes:
        return
    now = datetime.now(UTC)
    await connection.execute(
        insert(handled_commands),
        [
            {
                "command_id": str(outcome.command_id),
                "connection_id": str(outcome.connection_id) if outcome.connection_id else None,
                "tenant": tenant,
                "outcome": outcome.model_dump(mode="json"),
                "handled_at": now,
            }
            for tenant, outcome in outcomes
        ],
    )
