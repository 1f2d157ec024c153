"""What the ``/metrics`` gauges show: figures over the whole fleet, bounded by the code.

Every read here sees every tenant but returns only aggregates, grouped by values the
code bounds (kind, health status, check outcome): never a tenant or a connection id,
so the number of series does not grow with tenants or connections. Live connections
only (deleted ones are never counted). A tenant's own per-connection figures are on
the statistics routes (``sample_stats``, ``sample_history``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import case

from connmgr.storage.event_log import as_utc
from connmgr.storage.tables import connections, probe_state, samples


class FleetCount(NamedTuple):
    kind: str
    status: str
    connections: int


class LatencyHistogram(NamedTuple):
    """Live connections of one kind by their newest check's latency: ``at_most[i]`` of
    them took at most ``bounds_ms[i]``; ``checked`` have been checked at all."""

    kind: str
    at_most: tuple[int, ...]
    checked: int
    sum_ms: float


class OutcomeCount(NamedTuple):
    outcome: str
    checks: int


async def fleet_counts(engine: AsyncEngine) -> list[FleetCount]:
    """Live connections by kind and status."""
    c = connections.c
    query = (
        select(c.kind, c.status, func.count())
        .where(c.deleted.is_(False))
        .group_by(c.kind, c.status)
        .order_by(c.kind, c.status)
    )
    async with engine.connect() as connection:
        return [FleetCount(*row) for row in await connection.execute(query)]


async def newest_latency_histogram(
    engine: AsyncEngine, bounds_ms: Sequence[float]
) -> list[LatencyHistogram]:
    """Per kind, the live connections' newest check latencies, counted at or under each
    of ``bounds_ms`` (ascending); connections never checked are left out.

    The newest check is the one the prober last counted, whose latency its
    ``probe_state`` row keeps: one row per connection, however long its history.
    """
    c, p = connections.c, probe_state.c
    latency = p.last_latency_ms
    at_most = [func.sum(case((latency <= bound, 1), else_=0)) for bound in bounds_ms]
    query = (
        select(c.kind, func.count(latency), func.sum(latency), *at_most)
        .select_from(connections.join(probe_state, p.connection_id == c.id))
        .where(c.deleted.is_(False), latency.is_not(None))
        .group_by(c.kind)
        .order_by(c.kind)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [
        LatencyHistogram(row[0], tuple(int(n) for n in row[3:]), int(row[1]), float(row[2]))
        for row in rows
    ]


async def checks_since(engine: AsyncEngine, since: datetime) -> list[OutcomeCount]:
    """Samples checked at or after ``since``, by outcome."""
    s = samples.c
    query = (
        select(s.outcome, func.count())
        .where(s.checked_at >= as_utc(since))
        .group_by(s.outcome)
        .order_by(s.outcome)
    )
    async with engine.connect() as connection:
        return [OutcomeCount(*row) for row in await connection.execute(query)]
