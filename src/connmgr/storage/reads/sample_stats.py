"""Window statistics of probe samples for the API: counts, rates, uptime, percentiles.

Contracts (every query is scoped to one tenant, as in ``sample_history``):

- ``connection_stats`` over ``[now - window, now)`` reads, by window length:

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
- **percentiles**: nearest-rank over weighted points. A raw sample is one point at
  its latency. A roll-up of ``n`` checks is four points: ``0.50 n`` at its p50,
  ``0.45 n`` at its p95, ``0.04 n`` at its p99 and ``0.01 n`` at its max — every
  check is moved up to the top of its quantile band. So figures from raw samples
  are exact, those from one bucket reproduce its percentiles, and over many buckets
  the estimate errs high, never low (a slow hour is not averaged away).
- **uptime %**: time-weighted success share: each observed minute (raw samples,
  per connection) or roll-up bucket contributes its share of successful checks,
  weighted by its length. Unlike ``success_rate`` (per check), a burst of checks
  in one minute weighs no more than that minute.
- **packed samples** (issue 15, ``storage.sample_packing``): raw samples stay in the
  ``samples`` table at least ``RAW_KEPT_FOR`` (the raw-only window) after their hour,
  and until both resolutions rolled past them, so the raw span of a window ending
  now reads that table alone. A raw span reaching back before the ``packed``
  checkpoint (a window ending in the past) is computed here in Python from the raw
  rows and the decoded blocks, by the same rules and to the same figures.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Table,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.event_log import as_utc
from connmgr.storage.packed_blocks import blocks_checkpoint, read_blocks
from connmgr.storage.rollups import (
    BUCKET_WIDTHS,
    OK_OUTCOME,
    PERCENTILES,
    Resolution,
    read_checkpoints,
)
from connmgr.storage.sample_packing import RAW_KEPT_FOR
from connmgr.storage.tables import sample_blocks, sample_rollups, samples

RAW_ONLY_UP_TO: Final = RAW_KEPT_FOR
MINUTES_UP_TO: Final = timedelta(days=7)
_BANDS: Final = (
    ("latency_p50_ms", 50),
    ("latency_p95_ms", 45),
    ("latency_p99_ms", 4),
    ("latency_max_ms", 1),
)
_MINUTE_S: Final = 60.0


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
    async with engine.connect() as connection:
        checkpoints = await read_checkpoints(connection)
        spans = _plan(_Span(tenant, connection_id, None, since, until), checkpoints)
        packed_until = await blocks_checkpoint(connection)
        raw = spans[-1]
        if packed_until is not None and raw.since < min(packed_until, raw.until):
            return await _with_packed(connection, spans, since, until)
        totals = _Totals()
        for span in spans:
            totals += await _totals(connection, span)
        latencies = await _percentiles(connection, spans)
    return totals.stats(connection_id, since, until, latencies)


async def _with_packed(
    connection: AsyncConnection, spans: list[_Span], since: datetime, until: datetime
) -> ConnectionStats:
    """The same figures, when the raw span reaches packed hours: that span in Python."""
    *rolled, raw = spans
    totals = _Totals()
    points: list[tuple[float, int]] = []
    for span in rolled:
        totals += await _totals(connection, span)
        for query in _points(span):
            points.extend((row.value, row.weight) for row in await connection.execute(query))
    checks = await _raw_checks(connection, raw)
    totals += _raw_totals(checks)
    points.extend((latency, 100) for _, _, _, latency in checks)
    return totals.stats(raw.connection_id, since, until, _weighted_percentiles(points))


async def _raw_checks(
    connection: AsyncConnection, span: _Span
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


def _raw_totals(checks: list[tuple[str, datetime, str, float]]) -> _Totals:
    """As ``_totals`` of a raw span: one bucket per connection and minute."""
    buckets: dict[tuple[str, datetime], list[int]] = {}
    for connection_id, moment, outcome, _ in checks:
        minute = moment.replace(second=0, microsecond=0)
        counts = buckets.setdefault((connection_id, minute), [0, 0])
        counts[0] += 1
        counts[1] += outcome != OK_OUTCOME
    shares = sum((n - f) / n for n, f in (buckets[key] for key in sorted(buckets)))
    count = sum(n for n, _ in buckets.values())
    failures = sum(f for _, f in buckets.values())
    return _Totals(count, failures, _MINUTE_S * shares, _MINUTE_S * len(buckets))


def _weighted_percentiles(points: list[tuple[float, int]]) -> tuple[float | None, ...]:
    """As ``_percentiles``: the smallest value whose running weight reaches each rank."""
    if not points:
        return (None,) * len(PERCENTILES)
    ordered = sorted(points)
    total = sum(weight for _, weight in ordered)
    found: list[float | None] = []
    for percent in PERCENTILES:
        running = 0
        for value, weight in ordered:
            running += weight
            if 100 * running >= percent * total:
                found.append(value)
                break
    return tuple(found)


def tenant_scope(table: Table, tenant: str, connection_id: str | None) -> list[ColumnElement[bool]]:
    """The conditions keeping a query to the tenant's rows (and the connection's, if given)."""
    conditions = [table.c.tenant == tenant]
    if connection_id is not None:
        conditions.append(table.c.connection_id == connection_id)
    return conditions


@dataclass(frozen=True, slots=True)
class _Span:
    """Part of a stats window: ``[since, until)`` of the tenant (and connection), read
    from roll-ups of ``resolution``, or from raw samples when it is None."""

    tenant: str
    connection_id: str | None
    resolution: Resolution | None
    since: datetime
    until: datetime

    def where(self) -> list[ColumnElement[bool]]:
        if self.resolution is None:
            moment = samples.c.checked_at
            conditions = tenant_scope(samples, self.tenant, self.connection_id)
        else:
            moment = sample_rollups.c.bucket_start
            conditions = tenant_scope(sample_rollups, self.tenant, self.connection_id)
            conditions.append(sample_rollups.c.resolution == self.resolution)
        return [*conditions, moment >= self.since, moment < self.until]


def _plan(window: _Span, checkpoints: dict[Resolution, datetime]) -> list[_Span]:
    """Cut the raw ``window`` into roll-up spans, coarsest first and each up to its
    checkpoint, and the raw tail after them (see the module contract)."""
    length = window.until - window.since
    if length <= RAW_ONLY_UP_TO:
        tiers: tuple[Resolution, ...] = ()
    else:
        tiers = ("minute",) if length <= MINUTES_UP_TO else ("hour", "minute")
    spans: list[_Span] = []
    cursor = window.since
    for resolution in tiers:
        rolled_until = checkpoints.get(resolution)
        if rolled_until is not None and rolled_until > cursor:
            end = min(rolled_until, window.until)
            spans.append(replace(window, resolution=resolution, since=cursor, until=end))
            cursor = end
    return [*spans, replace(window, since=cursor)]


@dataclass(frozen=True, slots=True)
class _Totals:
    count: int = 0
    failures: int = 0
    up_s: float = 0.0
    observed_s: float = 0.0

    def __add__(self, other: _Totals) -> _Totals:
        return _Totals(
            *(mine + theirs for mine, theirs in zip(astuple(self), astuple(other), strict=True))
        )

    def stats(
        self,
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
            count=self.count,
            failures=self.failures,
            success_rate=(self.count - self.failures) / self.count if self.count else None,
            uptime_percent=100 * self.up_s / self.observed_s if self.observed_s else None,
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            latency_p99_ms=p99,
        )


async def _totals(connection: AsyncConnection, span: _Span) -> _Totals:
    """Checks, failures, and up and observed seconds of one span: a bucket is a
    roll-up, or for raw samples one connection's minute."""
    if span.resolution is None:
        seconds = _MINUTE_S
        c = samples.c
        failed = func.sum(case((c.outcome != OK_OUTCOME, 1), else_=0))
        buckets = select(func.count().label("n"), failed.label("f")).where(*span.where())
        buckets = buckets.group_by(c.connection_id, _minute_of(connection, c.checked_at))
    else:
        seconds = BUCKET_WIDTHS[span.resolution].total_seconds()
        r = sample_rollups.c
        buckets = select(r.count.label("n"), r.failures.label("f")).where(*span.where())
    b = buckets.subquery()
    share = cast(b.c.n - b.c.f, Float) / b.c.n
    query = select(func.sum(b.c.n), func.sum(b.c.f), func.sum(share), func.count())
    n, failures, shares, observed = (await connection.execute(query)).one()
    return _Totals(int(n or 0), int(failures or 0), seconds * (shares or 0), seconds * observed)


def _minute_of(connection: AsyncConnection, moment: ColumnElement[Any]) -> ColumnElement[Any]:
    if connection.dialect.name == "postgresql":
        return func.date_trunc("minute", moment)
    return func.strftime("%Y-%m-%d %H:%M", moment)


async def _percentiles(connection: AsyncConnection, spans: list[_Span]) -> tuple[float | None, ...]:
    """Weighted nearest-rank p50/p95/p99 over every span's points (module contract).
    Weights are integers (a raw sample weighs 100), so ranks are exact."""
    p = union_all(*(point for span in spans for point in _points(span))).subquery()
    running = select(
        p.c.value,
        func.sum(p.c.weight).over(order_by=p.c.value, rows=(None, 0)).label("running"),
        func.sum(p.c.weight).over().label("total"),
    ).subquery()
    reached = (100 * running.c.running >= percent * running.c.total for percent in PERCENTILES)
    query = select(*(func.min(case((rank, running.c.value))) for rank in reached))
    return tuple((await connection.execute(query)).one())


def _points(span: _Span) -> list[Select[Any]]:
    """``(value, weight)`` rows: a raw sample weighs 100; a roll-up of ``n`` checks is
    ``50n`` at p50, ``45n`` at p95, ``4n`` at p99 and ``n`` at max."""
    if span.resolution is None:
        raw = select(samples.c.latency_ms.label("value"), literal(100).label("weight"))
        return [raw.where(*span.where())]
    r = sample_rollups.c
    return [
        select(r[column].label("value"), (r.count * weight).label("weight")).where(*span.where())
        for column, weight in _BANDS
    ]
