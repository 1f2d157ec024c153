"""Leader locks: one database session at a time leads a singleton job (the relay).

On PostgreSQL a leader lock is a session-level advisory lock. It lives exactly
as long as the session that took it: the holder confirms on that same session,
before acting as the leader, that it still holds it (``held_here``), and a cut
session (``pg_terminate_backend``, a network fault, a server restart) frees it
for another replica. SQLite is one process's file: ``leader_lock_needed`` is
False there, and that process leads without a lock.

Advisory keys are global to the database; the migration lock is
``0x636F6E6E6D677200`` (``database.py``), and each leader lock here takes the
next number.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.database import is_sqlite

RELAY_LOCK_KEY: Final = 0x636F6E6E6D677201  # "connmgr" + 1
# pg_locks shows a bigint advisory key as two 32-bit halves (classid, objid), objsubid 1.
_HOLDERS: Final = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = :high AND objid = :low"
)
_TAKE: Final = text("SELECT pg_try_advisory_lock(:key)")
_RELEASE: Final = text("SELECT pg_advisory_unlock(:key)")
_HOLDERS_QUERY: Final = text(_HOLDERS)
_HELD_HERE: Final = text(f"SELECT EXISTS ({_HOLDERS} AND pid = pg_backend_pid())")


def leader_lock_needed(engine: AsyncEngine) -> bool:
    """True where several processes share the database and must elect a leader."""
    return not is_sqlite(str(engine.url))


class LeaderLock:
    """The advisory lock ``key``, taken, confirmed and released on one session."""

    def __init__(self, key: int) -> None:
        self.key = key
        self._parts = dict(zip(("high", "low"), divmod(key, 1 << 32), strict=True))

    async def take(self, connection: AsyncConnection) -> bool:
        """Try once to take the lock for ``connection``'s session; True if it holds it now."""
        async with connection.begin():
            result: Any = await connection.execute(_TAKE, {"key": self.key})
            return bool(result.scalar_one())

    async def held_here(self, connection: AsyncConnection) -> bool:
        """Whether ``connection``'s session is alive and still holds the lock."""
        async with connection.begin():
            result: Any = await connection.execute(_HELD_HERE, self._parts)
            return bool(result.scalar_one())

    async def release(self, connection: AsyncConnection) -> None:
        async with connection.begin():
            await connection.execute(_RELEASE, {"key": self.key})

    async def holders(self, connection: AsyncConnection) -> list[int]:
        """The pids of the sessions holding the lock in ``connection``'s database."""
        result = await connection.execute(_HOLDERS_QUERY, self._parts)
        return [int(pid) for pid in result.scalars()]


RELAY_LOCK: Final = LeaderLock(RELAY_LOCK_KEY)
