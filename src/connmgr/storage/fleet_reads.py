"""Reads across every tenant, for the operator's ``/metrics`` scrape: bounded, by tenant.

Live connections only (deleted ones are never counted); the caller guards access
(scope ``metrics:read``), since these reads see every tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.event_log import as_utc
from connmgr.storage.health_queries import StatusCount, live_counts
from connmgr.storage.tables import connections, samples


class ConnectionGauge(NamedTuple):
    """``latency_ms`` is the newest sample's latency, None before the first check."""

    tenant: str
    connection_id: str
    kind: str
    status: str
    latency_ms: float | None


class OutcomeCount(NamedTuple):
    tenant: str
    outcome: str
    checks: int


async def status_counts_all_tenants(engine: AsyncEngine) -> list[StatusCount]:
    """Live connections by tenant, kind and status."""
    async with engine.connect() as connection:
        return [StatusCount(*row) for row in await connection.execute(live_counts())]


async def connection_gauges_all_tenants(engine: AsyncEngine, limit: int) -> list[ConnectionGauge]:
    """Up to ``limit`` live connections (by tenant, id) with their newest sample's latency."""
    c, s = connections.c, samples.c
    newest = (
        select(s.latency_ms)
        .where(s.connection_id == c.id)
        .order_by(s.checked_at.desc(), s.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(c.tenant, c.id, c.kind, c.status, newest)
        .where(c.deleted.is_(False))
        .order_by(c.tenant, c.id)
        .limit(limit)
    )
    async with engine.connect() as connection:
        return [ConnectionGauge(*row) for row in await connection.execute(query)]


async def checks_since_all_tenants(engine: AsyncEngine, since: datetime) -> list[OutcomeCount]:
    """Samples checked at or after ``since``, by tenant and outcome."""
    s = samples.c
    query = (
        select(s.tenant, s.outcome, func.count())
        .where(s.checked_at >= as_utc(since))
        .group_by(s.tenant, s.outcome)
    )
    async with engine.connect() as connection:
        return [OutcomeCount(*row) for row in await connection.execute(query)]
