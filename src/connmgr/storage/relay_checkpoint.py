"""Where the relay is in the log, kept in the database it reads from."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.tables import chain_head, relay_checkpoints


async def read_checkpoint(connection: AsyncConnection, name: str) -> int:
    row = (
        await connection.execute(
            select(relay_checkpoints.c.position).where(relay_checkpoints.c.name == name)
        )
    ).one_or_none()
    return 0 if row is None else int(row.position)


async def save_checkpoint(connection: AsyncConnection, name: str, position: int) -> None:
    """Move the checkpoint forward (never back)."""
    result = await connection.execute(
        update(relay_checkpoints)
        .where(relay_checkpoints.c.name == name, relay_checkpoints.c.position < position)
        .values(position=position)
    )
    if result.rowcount == 0 and await read_checkpoint(connection, name) == 0:
        await connection.execute(insert(relay_checkpoints).values(name=name, position=position))


async def read_relay_lag(connection: AsyncConnection, name: str) -> int:
    """Events appended and not yet relayed: the log's head position minus the checkpoint."""
    head = (
        await connection.execute(select(chain_head.c.position).where(chain_head.c.id == 1))
    ).scalar_one_or_none()
    return max(int(head or 0) - await read_checkpoint(connection, name), 0)
