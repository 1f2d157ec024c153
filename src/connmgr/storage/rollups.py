"""Roll-up machinery: bucket arithmetic, percentiles, and rolling one resolution.

- buckets are aligned on the Unix epoch, ``[start, start + width)``, UTC;
- a sample is a success when ``outcome == "ok"``, a failure otherwise;
- percentiles are nearest-rank (the ``ceil(p/100 * n)``-th smallest value): every
  percentile is a latency actually observed, identical on every backend;
- ``roll_resolution`` rolls whole buckets from the checkpoint up to a horizon, one
  transaction per span of at most ``batch`` raw samples (or one bucket, if a single
  bucket holds more); each transaction writes its roll-ups (upsert, so redoing a
  span rewrites the same rows) and moves ``rollup_checkpoints.rolled_until`` — the
  exclusive end of the rolled buckets — atomically.

``samples.roll_up`` is the entry point and states the whole contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import as_utc
from connmgr.storage.tables import rollup_checkpoints, sample_rollups, samples

OK_OUTCOME: Final = "ok"
PERCENTILES: Final = (50, 95, 99)

Resolution = Literal["minute", "hour"]
BUCKET_WIDTHS: Final[dict[Resolution, timedelta]] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_KEY: Final = ("connection_id", "resolution", "bucket_start")


def bucket_start(moment: datetime, width: timedelta) -> datetime:
    """The start of the epoch-aligned bucket of ``width`` holding ``moment`` (UTC)."""
    return _EPOCH + ((as_utc(moment) - _EPOCH) // width) * width


def nearest_rank(ordered: Sequence[float], percent: int) -> float:
    """The nearest-rank ``percent``-th percentile of ``ordered`` (sorted, non-empty)."""
    if not ordered:
        raise ValueError("no values")
    rank = -(-percent * len(ordered) // 100)  # ceil, without floating point
    return ordered[max(rank, 1) - 1]


def dialect_insert(connection: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` of the connection's dialect, which knows ``ON CONFLICT``."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def read_checkpoints(connection: AsyncConnection) -> dict[Resolution, datetime]:
    """``rolled_until`` of each resolution that has rolled anything yet."""
    c = rollup_checkpoints.c
    rolled = c.resolution.in_(BUCKET_WIDTHS)
    rows = await connection.execute(select(rollup_checkpoints).where(rolled))
    return {row.resolution: as_utc(row.rolled_until) for row in rows}


async def roll_resolution(
    engine: AsyncEngine, resolution: Resolution, horizon: datetime, batch: int
) -> int:
    """Roll every ``resolution`` bucket that ends by ``horizon``; return the rows written."""
    until = bucket_start(horizon, BUCKET_WIDTHS[resolution])
    written = 0
    while True:
        async with write_transaction(engine) as connection:
            rows = await _roll_span(connection, resolution, until, batch)
        if rows is None:
            return written
        written += rows


async def _roll_span(
    connection: AsyncConnection, resolution: Resolution, until: datetime, batch: int
) -> int | None:
    """Roll the next span of whole buckets before ``until``; None when there is none."""
    start = await _next_start(connection, resolution)
    if start is None or start >= until:
        return None
    end = await _span_end(connection, start, until, BUCKET_WIDTHS[resolution], batch)
    rows = await _aggregate(connection, resolution, start, end)
    for offset in range(0, len(rows), batch):
        await _upsert_rollups(connection, rows[offset : offset + batch])
    await _save_checkpoint(connection, resolution, end)
    return len(rows)


async def _next_start(connection: AsyncConnection, resolution: Resolution) -> datetime | None:
    """The checkpoint, or before the first roll-up the bucket of the oldest sample."""
    checkpoint = (await read_checkpoints(connection)).get(resolution)
    if checkpoint is not None:
        return checkpoint
    oldest = await connection.scalar(select(func.min(samples.c.checked_at)))
    return None if oldest is None else bucket_start(oldest, BUCKET_WIDTHS[resolution])


async def _span_end(
    connection: AsyncConnection, start: datetime, until: datetime, width: timedelta, batch: int
) -> datetime:
    """End of the longest run of whole buckets from ``start`` (before ``until``) holding
    at most ``batch`` samples; at least one bucket long."""
    c = samples.c
    beyond = await connection.scalar(
        select(c.checked_at)
        .where(c.checked_at >= start, c.checked_at < until)
        .order_by(c.checked_at)
        .offset(batch)
        .limit(1)
    )
    if beyond is None:
        return until
    return max(bucket_start(beyond, width), start + width)


async def _aggregate(
    connection: AsyncConnection, resolution: Resolution, start: datetime, end: datetime
) -> list[dict[str, object]]:
    """Roll-up rows of the buckets in ``[start, end)`` holding samples. The raw rows
    stream in (connection, time) order, so memory holds one bucket's latencies."""
    c = samples.c
    query = (
        select(c.connection_id, c.tenant, c.checked_at, c.outcome, c.latency_ms)
        .where(c.checked_at >= start, c.checked_at < end)
        .order_by(c.connection_id, c.checked_at)
    )
    rows: list[dict[str, object]] = []
    bucket: _Bucket | None = None
    async for sample in await connection.stream(query):
        key = (sample.connection_id, bucket_start(sample.checked_at, BUCKET_WIDTHS[resolution]))
        if bucket is None or bucket.key != key:
            if bucket is not None:
                rows.append(bucket.rollup(resolution))
            bucket = _Bucket(key, sample.tenant)
        bucket.add(sample.outcome, sample.latency_ms)
    if bucket is not None:
        rows.append(bucket.rollup(resolution))
    return rows


@dataclass(slots=True)
class _Bucket:
    """The samples of one connection in one bucket, gathered into a roll-up row."""

    key: tuple[str, datetime]
    tenant: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def add(self, outcome: str, latency_ms: float) -> None:
        self.latencies.append(latency_ms)
        self.failures += outcome != OK_OUTCOME

    def rollup(self, resolution: Resolution) -> dict[str, object]:
        ordered = sorted(self.latencies)
        p50, p95, p99 = (nearest_rank(ordered, percent) for percent in PERCENTILES)
        connection_id, start = self.key
        return {
            **dict(zip(_KEY, (connection_id, resolution, start), strict=True)),
            "tenant": self.tenant,
            "count": len(ordered),
            "failures": self.failures,
            "latency_p50_ms": p50,
            "latency_p95_ms": p95,
            "latency_p99_ms": p99,
            "latency_max_ms": ordered[-1],
        }


async def _upsert_rollups(connection: AsyncConnection, rows: list[dict[str, object]]) -> None:
    statement = dialect_insert(connection, sample_rollups)
    changes = {name: statement.excluded[name] for name in rows[0] if name not in _KEY}
    upsert = statement.on_conflict_do_update(index_elements=list(_KEY), set_=changes)
    await connection.execute(upsert, rows)


async def _save_checkpoint(
    connection: AsyncConnection, resolution: Resolution, rolled_until: datetime
) -> None:
    statement = dialect_insert(connection, rollup_checkpoints).values(
        resolution=resolution, rolled_until=rolled_until
    )
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["resolution"], set_={"rolled_until": rolled_until}
        )
    )
