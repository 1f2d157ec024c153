"""Window statistics of probe samples for the API: counts, rates, uptime, percentiles.

Contracts (every query is scoped to one tenant, as in ``sample_history``):

- ``connection_stats`` over ``[now - window, now)`` reads, by window length
  (``stats_spans``):

  ===============  ===============================================================
  window <= 1 h    raw samples only (exact)
  window <= 7 d    minute roll-ups up to the minute checkpoint, raw samples after it
  longer (30 d)    hour roll-ups up to the hour checkpoint, then minute roll-ups up
                   to the minute checkpoint, then raw samples (the unrolled tail)
  ===============  ===============================================================

  A roll-up bucket counts when its start lies in the window, so the window's old
  edge is rounded up to the next bucket boundary (at most one minute or one hour
  shorter). Samples of deleted connections count in tenant-wide figures (what
  happened, happened); late samples that missed their roll-up count nowhere.
- **percentiles** (``stats_percentiles``): nearest-rank over weighted points, exact
  from raw samples, erring high, never low, over many roll-up buckets.
- **uptime %** (``stats_totals``): time-weighted success share, each observed minute
  or roll-up bucket weighted by its length, unlike ``success_rate`` (per check).
- **packed samples** (issue 15, ``storage.sample_packing``): raw samples stay in the
  ``samples`` table at least ``RAW_KEPT_FOR`` (the raw-only window) after their hour,
  and until both resolutions rolled past them, so the raw span of a window ending
  now reads that table alone. A raw span reaching back before the ``packed``
  checkpoint (a window ending in the past) is computed here in Python from the raw
  rows and the decoded blocks, by the same rules and to the same figures.
- **packed roll-ups** (issue 15, ``storage.rollup_packing``): the minute buckets of
  each hour, and the hour buckets of each day, that their resolution has rolled past
  are moved into blocks, so a roll-up span reaching before its packing checkpoint is
  summed and ranked in Python too, from the rows and the decoded blocks, the blocks
  folded in a worker thread so that the event loop serves other requests meanwhile
  (docs/decisions.md, "Roll-ups are packed by the hour and the day"). Every read of
  a window is one snapshot (``storage.database.snapshot``): a connection's block
  being packed is counted once, from its rows or from its block.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.database import snapshot
from connmgr.storage.event_log import as_utc
from connmgr.storage.packed_blocks import blocks_checkpoint, read_blocks
from connmgr.storage.reads.stats_percentiles import (
    BAND_WEIGHTS,
    latency_percentiles,
    latency_points,
    weighted_percentiles,
)
from connmgr.storage.reads.stats_spans import StatsSpan, plan_spans
from connmgr.storage.reads.stats_totals import Totals, raw_totals, span_totals
from connmgr.storage.reads.tenant_scope import tenant_scope
from connmgr.storage.rollup_blocks import rollup_block_rows, rollup_blocks_checkpoint
from connmgr.storage.rollup_codec import SHAPES, fold_rollups
from connmgr.storage.rollups import read_checkpoints
from connmgr.storage.tables import rollup_blocks, sample_blocks, samples

__all__ = ["ConnectionStats", "connection_stats"]


class ConnectionStats(BaseModel):
    """Figures over ``[since, until)``; rates and latencies are None without checks.

    ``success_rate`` is a fraction (0 to 1) of checks; ``uptime_percent`` a percentage.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connection_id: str | None
    since: datetime
    until: datetime
    count: int
    failures: int
    success_rate: float | None
    uptime_percent: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None


async def connection_stats(
    engine: AsyncEngine,
    tenant: str,
    connection_id: str | None,
    window: timedelta,
    now: datetime,
) -> ConnectionStats:
    """Count, success rate, uptime and latency percentiles of one connection (or of
    all the tenant's, when ``connection_id`` is None) over ``[now - window, now)``.
    Sources and approximations: see the module contract."""
    if window <= timedelta(0):
        raise ValueError("window must be positive")
    until = as_utc(now)
    since = until - window
    async with snapshot(engine) as connection:
        checkpoints = await read_checkpoints(connection)
        spans = plan_spans(StatsSpan(tenant, connection_id, None, since, until), checkpoints)
        if await _reaches_blocks(connection, spans):
            return await _with_packed(connection, spans, since, until)
        totals = Totals()
        for span in spans:
            totals += await span_totals(connection, span)
        latencies = await latency_percentiles(connection, spans)
    return _stats_of(totals, connection_id, since, until, latencies)


async def _reaches_blocks(connection: AsyncConnection, spans: list[StatsSpan]) -> bool:
    """Whether the raw span reaches packed samples, or a roll-up span packed buckets."""
    *rolled, raw = spans
    samples_packed = await blocks_checkpoint(connection)
    if samples_packed is not None and raw.since < min(samples_packed, raw.until):
        return True
    for span in rolled:
        assert span.resolution is not None  # every span but the last is of roll-ups
        packed = await rollup_blocks_checkpoint(connection, span.resolution)
        if packed is not None and span.since < min(packed, span.until):
            return True
    return False


async def _with_packed(
    connection: AsyncConnection, spans: list[StatsSpan], since: datetime, until: datetime
) -> ConnectionStats:
    """The same figures, when a span reaches packed blocks: summed and ranked in Python,
    the latency points gathered by value (so memory holds each distinct latency once)."""
    *rolled, raw = spans
    totals = Totals()
    weights: Counter[float] = Counter()
    for span in rolled:
        totals += await span_totals(connection, span)
        for query in latency_points(span):
            for row in await connection.execute(query):
                weights[row.value] += row.weight
        assert span.resolution is not None
        scope = tenant_scope(rollup_blocks, span.tenant, span.connection_id)
        rows = await rollup_block_rows(connection, span.resolution, scope, span.since, span.until)
        # Decoding a tenant's week of blocks is seconds of CPU: off the event loop.
        block_totals, block_weights = await asyncio.to_thread(_folded, rows, span)
        totals += block_totals
        weights.update(block_weights)
    checks = await _raw_checks(connection, raw)
    totals += raw_totals(checks)
    for *_, latency in checks:
        weights[latency] += 100
    percentiles = weighted_percentiles(list(weights.items()))
    return _stats_of(totals, raw.connection_id, since, until, percentiles)


def _folded(rows: list[Row[Any]], span: StatsSpan) -> tuple[Totals, Counter[float]]:
    """Totals and latency points of the roll-up span's buckets in packed blocks."""
    assert span.resolution is not None
    shape = SHAPES[span.resolution]
    seconds = shape.width.total_seconds()
    weights: Counter[float] = Counter()
    totals = Totals()
    for row in rows:
        start = as_utc(row.bucket_start)
        # The first slot starting at or after each end of the span.
        first, stop = (-(-(moment - start) // shape.width) for moment in (span.since, span.until))
        count, failures, shares, observed = fold_rollups(
            shape, row.data, first, stop, BAND_WEIGHTS, weights
        )
        totals += Totals(count, failures, seconds * shares, seconds * observed)
    return totals, weights


async def _raw_checks(
    connection: AsyncConnection, span: StatsSpan
) -> list[tuple[str, datetime, str, float]]:
    """``(connection, checked_at, outcome, latency)`` of the span, raw rows and blocks."""
    c = samples.c
    query = select(c.connection_id, c.checked_at, c.outcome, c.latency_ms).where(*span.where())
    checks = [(r[0], as_utc(r[1]), r[2], r[3]) for r in await connection.execute(query)]
    scope = tenant_scope(sample_blocks, span.tenant, span.connection_id)
    page = await read_blocks(connection, scope, span.since, span.until)
    checks.extend(
        (s.connection_id, s.sample.checked_at, s.sample.outcome, s.sample.latency_ms)
        for s in page.samples
    )
    return checks


def _stats_of(
    totals: Totals,
    connection_id: str | None,
    since: datetime,
    until: datetime,
    latencies: tuple[float | None, ...],
) -> ConnectionStats:
    p50, p95, p99 = latencies
    return ConnectionStats(
        connection_id=connection_id,
        since=since,
        until=until,
        count=totals.count,
        failures=totals.failures,
        success_rate=(totals.count - totals.failures) / totals.count if totals.count else None,
        uptime_percent=100 * totals.up_s / totals.observed_s if totals.observed_s else None,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        latency_p99_ms=p99,
    )
