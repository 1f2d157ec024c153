"""A connection's check history for the API: its recent probe samples and roll-ups.

Contracts:

- every query is scoped to one tenant: another tenant's samples and roll-ups are
  invisible, exactly like rows that do not exist;
- ``recent_samples``: the newest samples checked in ``[since, until)``, newest first;
  ``rollups``: buckets whose start lies in ``[since, until)`` (the newest ``limit`` of
  them, if given), oldest bucket first. A range that does not end after it starts is
  empty;
- samples come from the raw buffer and from packed hourly blocks alike
  (``storage.packed_blocks``), roll-ups from their rows and from packed blocks alike
  (``storage.rollup_blocks``, read in one snapshot): the answer is the same whichever
  holds them. Among samples checked at the same moment, the one stored later comes
  first, as by row id.

Window statistics over the same samples are ``sample_stats``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Final, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.database import snapshot
from connmgr.storage.event_log import as_utc
from connmgr.storage.packed_blocks import blocks_checkpoint, packed_of, read_blocks
from connmgr.storage.reads.tenant_scope import tenant_scope
from connmgr.storage.rollup_blocks import read_rollup_blocks, rollup_blocks_checkpoint
from connmgr.storage.rollups import Resolution
from connmgr.storage.sample_codec import PackedSample
from connmgr.storage.tables import rollup_blocks, sample_blocks, sample_rollups, samples

MAX_SAMPLES: Final = 1000
_BLOCK_PAGE: Final = 4

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
    until: datetime | None = None,
    limit: int = 100,
) -> list[SampleView]:
    """The connection's newest samples (``since <= checked_at < until``), newest first;
    a bound that is None is no bound.

    Raises ``ValueError`` unless ``1 <= limit <= MAX_SAMPLES``.
    """
    if not 1 <= limit <= MAX_SAMPLES:
        raise ValueError(f"limit must be between 1 and {MAX_SAMPLES}")
    c = samples.c
    query = select(samples).where(*tenant_scope(samples, tenant, connection_id))
    if since is not None:
        query = query.where(c.checked_at >= as_utc(since))
    if until is not None:
        query = query.where(c.checked_at < as_utc(until))
    query = query.order_by(c.checked_at.desc(), c.id.desc()).limit(limit)
    async with engine.connect() as connection:
        raw = [packed_of(row) for row in await connection.execute(query)]
        packed = await _newest_packed(connection, tenant, connection_id, since, until, limit, raw)
    # Stable sort: raw rows (stored last) before packed ones on equal moments.
    newest = sorted([*raw, *packed], key=lambda sample: sample.checked_at, reverse=True)
    return [_sample_view(connection_id, sample) for sample in newest[:limit]]


async def _newest_packed(
    connection: AsyncConnection,
    tenant: str,
    connection_id: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    raw: list[PackedSample],
) -> list[PackedSample]:
    """The newest packed samples that may be among the ``limit`` newest: blocks are
    read newest first, until the blocks left are all older than ``limit`` samples."""
    checkpoint = await blocks_checkpoint(connection)
    if checkpoint is None or (since is not None and as_utc(since) >= checkpoint):
        return []
    if len(raw) >= limit and raw[limit - 1].checked_at >= checkpoint:
        return []  # every packed sample is older than the checkpoint
    found: list[PackedSample] = []
    before = until
    while True:
        b = sample_blocks.c
        conditions = [*tenant_scope(sample_blocks, tenant, connection_id)]
        if before is not None:
            conditions.append(b.bucket_start < as_utc(before))
        page = await read_blocks(connection, conditions, since, until, newest=_BLOCK_PAGE)
        found.extend(stored.sample for stored in page.samples)
        if page.oldest_start is None or page.exhausted:
            return found
        moments = sorted((s.checked_at for s in [*raw, *found]), reverse=True)
        if len(moments) >= limit and moments[limit - 1] >= page.oldest_start:
            return found
        before = page.oldest_start


def _sample_view(connection_id: str, sample: PackedSample) -> SampleView:
    return SampleView(
        check_id=sample.check_id,
        connection_id=connection_id,
        checked_at=sample.checked_at,
        outcome=sample.outcome,
        latency_ms=sample.latency_ms,
        phases=sample.phases,
    )


async def rollups(
    engine: AsyncEngine,
    tenant: str,
    connection_id: str,
    *,
    resolution: Resolution,
    since: datetime,
    until: datetime,
    limit: int | None = None,
) -> list[RollupView]:
    """The connection's ``resolution`` buckets starting in ``[since, until)`` (only the
    newest ``limit``, if given), oldest first.

    The caller bounds the range (a day of minutes is 1,440 rows, 30 days of hours 720).
    """
    r = sample_rollups.c
    query = (
        select(sample_rollups)
        .where(*tenant_scope(sample_rollups, tenant, connection_id), r.resolution == resolution)
        .where(r.bucket_start >= as_utc(since), r.bucket_start < as_utc(until))
        .order_by(r.bucket_start.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    async with snapshot(engine) as connection:
        rows = (await connection.execute(query)).mappings().all()
        found = [_view(RollupView, row, "bucket_start") for row in rows]
        found += await _packed(connection, tenant, connection_id, resolution, since, until)
    newest = sorted(found, key=lambda view: view.bucket_start, reverse=True)[:limit]
    return newest[::-1]


async def _packed(
    connection: AsyncConnection,
    tenant: str,
    connection_id: str,
    resolution: Resolution,
    since: datetime,
    until: datetime,
) -> list[RollupView]:
    """The ``resolution`` buckets in ``[since, until)`` that blocks hold."""
    checkpoint = await rollup_blocks_checkpoint(connection, resolution)
    if checkpoint is None or as_utc(since) >= checkpoint:
        return []
    scope = tenant_scope(rollup_blocks, tenant, connection_id)
    stored = await read_rollup_blocks(connection, resolution, scope, since, until)
    return [
        RollupView(resolution=resolution, connection_id=s.connection_id, **asdict(s.bucket))
        for s in stored
    ]


def _view(model: type[_View], row: RowMapping, moment: str) -> _View:
    """``model`` from the row's matching columns, its ``moment`` column made UTC."""
    fields = {name: row[name] for name in model.model_fields}
    return model.model_validate({**fields, moment: as_utc(row[moment])})
