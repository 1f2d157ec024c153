"""Many connections for one tenant, written straight into the projection tables
(the dashboard and the alerts list read those; building them through the pipeline is
bench.pipeline's job)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.tables import connection_tags, connections

BATCH: Final = 1000
STATUSES: Final = ("healthy", "healthy", "healthy", "degraded", "down", "unknown")
KINDS: Final = ("postgres", "mysql", "redis", "http", "tcp")


def _row(tenant: str, index: int, moment: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "tenant": tenant,
        "name": f"conn-{index:05d}",
        "kind": KINDS[index % len(KINDS)],
        "template": None,
        "config": {"host": f"db-{index}.internal", "port": 5432},
        "auth": {"method": "basic", "username": "app"},
        "secrets": None,
        "health_check": {"enabled": True, "interval_s": 60},
        "tags": [f"team-{index % 7}"],
        "description": f"bench connection {index}",
        "status": STATUSES[index % len(STATUSES)],
        "version": 1,
        "deleted": False,
        "created_at": moment,
        "updated_at": moment,
    }


async def seed_connections(engine: AsyncEngine, tenant: str, count: int) -> None:
    """``count`` connections of ``tenant`` with their tag rows, in batches."""
    moment = datetime.now(UTC)
    for start in range(0, count, BATCH):
        rows = [_row(tenant, i, moment) for i in range(start, min(count, start + BATCH))]
        tags = [{"connection_id": row["id"], "tag": row["tags"][0]} for row in rows]
        async with write_transaction(engine) as connection:
            await connection.execute(connections.insert(), rows)
            await connection.execute(connection_tags.insert(), tags)
