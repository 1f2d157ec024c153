"""A checked fleet: each seeded connection with its samples and its prober state.

The connections are ``harness.seeding``'s rows. Each gets ``samples`` raw samples a
minute apart, the newest ending now (so the last minute's checks are a real count),
and the ``probe_state`` row the prober's flush would have left after the newest of
them, its latency included.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import seed_connections
from connmgr.storage.database import write_transaction
from connmgr.storage.tables import connections, probe_state, samples

BATCH: Final = 1000
OUTCOMES: Final = ("ok", "ok", "ok", "ok", "timeout", "refused")


async def seed_checked_fleet(engine: AsyncEngine, tenant: str, count: int, per: int) -> None:
    """``count`` connections of ``tenant``, each checked ``per`` times."""
    await seed_connections(engine, tenant, count)
    async with engine.connect() as connection:
        ids = list(await connection.scalars(select(connections.c.id).order_by(connections.c.id)))
    now = datetime.now(UTC)
    for start in range(0, len(ids), BATCH):
        batch = list(enumerate(ids[start : start + BATCH], start=start))
        checks = [_sample(cid, tenant, index, n, now) for index, cid in batch for n in range(per)]
        states = [_state(cid, tenant, checks[i * per]) for i, (_, cid) in enumerate(batch)]
        async with write_transaction(engine) as connection:
            await connection.execute(samples.insert(), checks)
            await connection.execute(probe_state.insert(), states)


def _sample(connection_id: str, tenant: str, index: int, n: int, now: datetime) -> dict[str, Any]:
    """The ``n``-th check of a connection, oldest first, the last one at ``now``."""
    return {
        "check_id": str(uuid.uuid4()),
        "connection_id": connection_id,
        "tenant": tenant,
        "checked_at": now - timedelta(minutes=n),
        "outcome": OUTCOMES[(index + n) % len(OUTCOMES)],
        "latency_ms": float(1 + (index * 7 + n * 13) % 900),
        "phases": {"connect": 1.0},
    }


def _state(connection_id: str, tenant: str, newest: dict[str, Any]) -> dict[str, Any]:
    return {
        "connection_id": connection_id,
        "tenant": tenant,
        "status": "healthy",
        "status_since": newest["checked_at"],
        "last_check_at": newest["checked_at"],
        "last_latency_ms": newest["latency_ms"],
        "consecutive_failures": 0,
        "consecutive_successes": 1,
        "consecutive_auth_failures": 0,
        "recent": "S",
        "suspended": False,
        "updated_at": newest["checked_at"],
    }
