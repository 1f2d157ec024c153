"""The read side of probe samples for the API: recent checks, roll-ups, window statistics.

Contracts:

- every query is scoped to one tenant: another tenant's samples and roll-ups are
  invisible, exactly like rows that do not exist;
- ``recent_samples``: newest first; ``rollups``: oldest bucket first, buckets whose
  start lies in ``[since, until)``;
- ``connection_stats`` (window statistics) is ``sample_stats``'s, re-exported here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.event_log import as_utc
from connmgr.storage.rollups import Resolution
from connmgr.storage.sample_stats import ConnectionStats, connection_stats, tenant_scope
from connmgr.storage.tables import sample_rollups, samples

# connection_stats and ConnectionStats are sample_stats's; importers still find them here.
__all__ = [
    "MAX_SAMPLES",
    "ConnectionStats",
    "RollupView",
    "SampleView",
    "connection_stats",
    "recent_samples",
    "rollups",
]

MAX_SAMPLES: Final = 1000

_View = TypeVar("_View", bound=BaseModel)


class SampleView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    check_id: str
    connection_id: str
    checked_at: datetime
    outcome: str
    latency_ms: float
    phases: dict[str, float]


class RollupView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    connection_id: str
    resolution: Resolution
    bucket_start: datetime
    count: int
    failures: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_max_ms: float


async def recent_samples(
    engine: AsyncEngine,
    tenant: str,
    connection_id: str,
    *,
    since: datetime | None = None,
    limit: int = 100,
) -> list[SampleView]:
    """The connection's newest samples (``checked_at >= since``), newest first.

    Raises ``ValueError`` unless ``1 <= limit <= MAX_SAMPLES``.
    """
    if not 1 <= limit <= MAX_SAMPLES:
        raise ValueError(f"limit must be between 1 and {MAX_SAMPLES}")
    c = samples.c
    query = select(samples).where(*tenant_scope(samples, tenant, connection_id))
    if since is not None:
        query = query.where(c.checked_at >= as_utc(since))
    query = query.order_by(c.checked_at.desc(), c.id.desc()).limit(limit)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [_view(SampleView, row, "checked_at") for row in rows]


async def rollups(
    engine: AsyncEngine,
    tenant: str,
    connection_id: str,
    *,
    resolution: Resolution,
    since: datetime,
    until: datetime,
) -> list[RollupView]:
    """The connection's ``resolution`` buckets starting in ``[since, until)``, oldest first.

    The caller bounds the range (a day of minutes is 1,440 rows, 30 days of hours 720).
    """
    r = sample_rollups.c
    query = (
        select(sample_rollups)
        .where(*tenant_scope(sample_rollups, tenant, connection_id), r.resolution == resolution)
        .where(r.bucket_start >= as_utc(since), r.bucket_start < as_utc(until))
        .order_by(r.bucket_start)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [_view(RollupView, row, "bucket_start") for row in rows]


def _view(model: type[_View], row: RowMapping, moment: str) -> _View:
    """``model`` from the row's matching columns, its ``moment`` column made UTC."""
    fields = {name: row[name] for name in model.model_fields}
    return model.model_validate({**fields, moment: as_utc(row[moment])})
