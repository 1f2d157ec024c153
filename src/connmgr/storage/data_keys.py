"""Wrapped per-connection data keys. Deleting a row crypto-shreds the connection's secrets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.any_of import BACKENDS, arrays_on, one_of
from connmgr.storage.bulk_insert import insert_rows
from connmgr.storage.tables import data_keys

_DESTROY: Final = {
    array: delete(data_keys).where(one_of(data_keys.c.connection_id, "ids", array=array))
    for array in BACKENDS
}
"""By whether the backend takes arrays (``any_of``)."""


@dataclass(frozen=True, slots=True)
class WrappedDataKey:
    kek_id: str
    wrapped_key: bytes


async def put_data_key(
    connection: AsyncConnection, connection_id: str, key: WrappedDataKey
) -> None:
    """Store the connection's current data key, replacing any previous one."""
    await destroy_data_key(connection, connection_id)
    await connection.execute(
        insert(data_keys).values(
            connection_id=connection_id,
            kek_id=key.kek_id,
            wrapped_key=key.wrapped_key,
            created_at=datetime.now(UTC),
        )
    )


async def get_data_key(connection: AsyncConnection, connection_id: str) -> WrappedDataKey | None:
    row = (
        await connection.execute(
            select(data_keys.c.kek_id, data_keys.c.wrapped_key).where(
                data_keys.c.connection_id == connection_id
            )
        )
    ).one_or_none()
    return None if row is None else WrappedDataKey(row.kek_id, bytes(row.wrapped_key))


async def destroy_data_key(connection: AsyncConnection, connection_id: str) -> None:
    await connection.execute(delete(data_keys).where(data_keys.c.connection_id == connection_id))


async def all_data_keys(connection: AsyncConnection) -> dict[str, WrappedDataKey]:
    rows = await connection.execute(
        select(data_keys.c.connection_id, data_keys.c.kek_id, data_keys.c.wrapped_key)
    )
    return {row.connection_id: WrappedDataKey(row.kek_id, bytes(row.wrapped_key)) for row in rows}


async def replace_wrapping(
    connection: AsyncConnection, connection_id: str, old: WrappedDataKey, new: WrappedDataKey
) -> bool:
    """Swap a data key's wrapping if it is still ``old``; False when it changed meanwhile."""
    result = await connection.execute(
        update(data_keys)
        .where(
            data_keys.c.connection_id == connection_id,
            data_keys.c.kek_id == old.kek_id,
            data_keys.c.wrapped_key == old.wrapped_key,
        )
        .values(kek_id=new.kek_id, wrapped_key=new.wrapped_key)
    )
    return result.rowcount == 1


async def replace_data_keys(
    connection: AsyncConnection, changes: dict[str, WrappedDataKey | None]
) -> None:
    """Apply many changes at once: a key replaces the connection's, None destroys it."""
    if not changes:
        return
    await connection.execute(_DESTROY[arrays_on(connection)], {"ids": list(changes)})
    now = datetime.now(UTC)
    rows = [
        {
            "connection_id": cid,
            "kek_id": key.kek_id,
            "wrapped_key": key.wrapped_key,
            "created_at": now,
        }
        for cid, key in changes.items()
        if key is not None
    ]
    if rows:
        await insert_rows(connection, data_keys, rows)
