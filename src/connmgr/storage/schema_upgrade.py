"""Schema upgrade for a process that starts: migrations, then a refold when one asks.

A migration that adds a projection column the fold fills (``REFOLDING``) adds it
empty; the rows get their values from the fold of the whole log, in the same
transaction as the migration, so no start sees the column without its values
and no SQL edits the rows: the projection stays a pure fold (``docs/decisions.md``,
"E-mail recipients are a field"). Only the replica whose migration applied such a
revision refolds; the others, waiting on the migration lock, find the schema current.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import migrate_in, write_transaction
from connmgr.storage.projection_store import refold

REFOLDING: Final = frozenset({"0006", "0009"})
"""Revisions after which the projection is refolded: 0006 added ``notify``, 0009 the
``alerts`` table."""
FIRST: Final = "0001"
"""A schema created from nothing has an empty log: nothing to refold."""


async def upgrade_schema(engine: AsyncEngine) -> bool:
    """Migrate to the newest schema; True when that called for a refold (done here)."""
    async with write_transaction(engine) as connection:
        applied = await migrate_in(connection)
        if not applied & REFOLDING or FIRST in applied:
            return False
        await refold(connection)
    return True
