"""Re-wrapping every data key under the key ring's primary KEK.

Run after adding a new primary: each data key is unwrapped with the ring (old
KEKs are still in it) and wrapped again by the primary, row by row, so a crash
part-way leaves every key readable. Afterwards the old KEK can be retired.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.data_keys import all_data_keys, replace_wrapping
from connmgr.storage.database import write_transaction
from connmgr.storage.tables import data_keys
from connmgr.workers.keyring import Keyring, KeyringError


@dataclass(frozen=True, slots=True)
class RewrapReport:
    rewrapped: int
    already_current: int


async def rewrap_all(engine: AsyncEngine, keyring: Keyring) -> RewrapReport:
    async with engine.connect() as connection:
        stored = await all_data_keys(connection)
    rewrapped = current = 0
    for connection_id, wrapped in stored.items():
        if wrapped.kek_id == keyring.primary:
            current += 1
            continue
        fresh = keyring.wrap(keyring.unwrap(wrapped, connection_id), connection_id)
        async with write_transaction(engine) as connection:
            if await replace_wrapping(connection, connection_id, wrapped, fresh):
                rewrapped += 1
    return RewrapReport(rewrapped=rewrapped, already_current=current)


async def ensure_unused(engine: AsyncEngine, kek_id: str) -> None:
    """Refuse to retire a KEK that still wraps a data key."""
    async with engine.connect() as connection:
        count = (
            await connection.execute(
                select(func.count()).select_from(data_keys).where(data_keys.c.kek_id == kek_id)
            )
        ).scalar_one()
    if count:
        raise KeyringError(f"key {kek_id} still wraps {count} data keys; run keys rotate first")
