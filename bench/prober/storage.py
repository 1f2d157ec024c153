"""What the samples cost on disk: raw rows, packed blocks, roll-ups, per day at the achieved rate.

Bytes are measured, not assumed: ``pg_total_relation_size`` (heap, TOAST and
every index), for ``samples`` (raw rows, the write buffer) after the run, and for
``sample_rollups`` once every bucket is rolled as rows, and for ``sample_blocks``
and ``rollup_blocks`` after ``roll_up`` has run once over everything (its ``now``
set past the last hour plus the packing delay, so every minute and hour bucket is
complete and every hour packed). Per day: samples = rate x 86,400 x packed bytes
per check; roll-ups = connections x buckets a day per resolution (86,400 /
max(bucket width, interval): 1,440 minute buckets and 24 hour rows for an interval
of at most a minute), at their packed cost. A run of minutes packs partial hours
and days, so its packed figures err high; ``--storage-only`` (``packing``) measures
whole hours, and whole days with ``--hours 24``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import BenchError
from connmgr.storage.rollups import BUCKET_WIDTHS, roll_resolution
from connmgr.storage.samples import DEFAULT_GRACE, Retention, roll_up

DAY_S: Final = 86_400
BUCKET_S: Final = {"minute": 60, "hour": 3600}
PAST_THE_LAST_HOUR: Final = timedelta(hours=2, minutes=5)  # rolled, then packed
_DAY: Final = timedelta(days=1)


def packing_horizon(last: datetime) -> datetime:
    """A ``now`` for ``roll_up`` that rolls and packs everything up to ``last``: past
    its hour by the raw samples' delay, and past its day, so hour buckets are packed."""
    day_end = datetime(last.year, last.month, last.day, tzinfo=UTC) + _DAY
    return max(last + PAST_THE_LAST_HOUR, day_end + DEFAULT_GRACE + timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class TableCost:
    rows: int
    bytes: int

    @property
    def bytes_per_row(self) -> float:
        if self.rows == 0:
            raise BenchError("an empty table has no cost per row")
        return self.bytes / self.rows


@dataclass(frozen=True, slots=True)
class RollupCost:
    """Roll-ups as rows (``sample_rollups`` before packing), and packed: bytes a bucket
    by resolution (``packed_rollup_cost``)."""

    rows: TableCost
    packed: dict[str, float]

    def bytes_per_bucket(self, resolution: str) -> float:
        """As stored: packed."""
        return self.packed[resolution]


async def packed_rollup_cost(engine: AsyncEngine) -> dict[str, float]:
    """Bytes a packed bucket, by resolution: ``rollup_blocks`` (heap, TOAST, indexes)
    shared out, each resolution's ``data`` bytes its own, and everything else (row
    headers, keys, index entries) a share per block."""
    total = (await table_cost(engine, "rollup_blocks")).bytes
    query = text(
        "SELECT resolution, count(*), sum(count), sum(pg_column_size(data)) "
        "FROM rollup_blocks GROUP BY resolution"
    )
    async with engine.connect() as connection:
        found = {
            row[0]: (int(row[1]), int(row[2]), int(row[3]))
            for row in await connection.execute(query)
        }
    if set(found) != set(BUCKET_S):
        raise BenchError(f"packed blocks of {sorted(found)}, not of every resolution")
    blocks = sum(n for n, _, _ in found.values())
    per_block = (total - sum(data for _, _, data in found.values())) / blocks
    return {
        resolution: (data + n * per_block) / buckets
        for resolution, (n, buckets, data) in found.items()
    }


@dataclass(frozen=True, slots=True)
class StorageFigures:
    samples: TableCost
    rollups: RollupCost
    samples_rows_per_day: float
    rollup_rows_per_day: dict[str, float]
    packed_bytes_per_check: float

    @property
    def samples_bytes_per_day(self) -> float:
        return self.samples_rows_per_day * self.packed_bytes_per_check

    @property
    def rollup_bytes_per_day(self) -> float:
        return sum(
            buckets * self.rollups.bytes_per_bucket(resolution)
            for resolution, buckets in self.rollup_rows_per_day.items()
        )

    def rollup_bytes_retained(self, retention: Retention) -> float:
        """Roll-up bytes held once each resolution has filled its retention."""
        return rollups_retained(self.rollups, self.rollup_rows_per_day, retention)


def rollups_retained(
    cost: RollupCost, buckets_per_day: dict[str, float], retention: Retention
) -> float:
    """Roll-up bytes held once each resolution has filled its retention."""
    days = {"minute": retention.minute, "hour": retention.hour}
    return sum(
        buckets * cost.bytes_per_bucket(resolution) * (days[resolution] / timedelta(days=1))
        for resolution, buckets in buckets_per_day.items()
    )


def buckets_per_day(connections: int, interval_s: float) -> dict[str, float]:
    """Roll-up buckets a day per resolution: one per bucket width, or per check if rarer."""
    return {
        resolution: connections * DAY_S / max(width, interval_s)
        for resolution, width in BUCKET_S.items()
    }


async def rollup_cost(engine: AsyncEngine, horizon: datetime) -> TableCost:
    """Roll every bucket up to ``horizon`` as rows (nothing packed yet); their cost."""
    for resolution in BUCKET_WIDTHS:
        await roll_resolution(engine, resolution, horizon - DEFAULT_GRACE, 5000)
    return await table_cost(engine, "sample_rollups")


async def table_cost(engine: AsyncEngine, table: str) -> TableCost:
    async with engine.connect() as connection:
        rows = await connection.scalar(text(f"SELECT count(*) FROM {table}"))
        size = await connection.scalar(text(f"SELECT pg_total_relation_size('{table}')"))
    return TableCost(int(rows or 0), int(size or 0))


async def measure_storage(
    engine: AsyncEngine, checks_per_s: float, connections: int, interval_s: float
) -> StorageFigures:
    """Run after the probers stopped: nothing else writes, nothing else rolls up."""
    samples = await table_cost(engine, "samples")
    horizon = packing_horizon(datetime.now(UTC))
    rows = await rollup_cost(engine, horizon)
    report = await roll_up(engine, horizon)
    if not report.ran:
        raise BenchError("the roll-up did not run (another holds its lock)")
    blocks = await table_cost(engine, "sample_blocks")
    if report.samples_packed < samples.rows:
        raise BenchError(f"only {report.samples_packed} of {samples.rows} samples were packed")
    rollups = RollupCost(rows, await packed_rollup_cost(engine))
    per_day = buckets_per_day(connections, interval_s)
    packed = blocks.bytes / samples.rows if samples.rows else 0.0
    return StorageFigures(samples, rollups, checks_per_s * DAY_S, per_day, packed)
