"""What the samples cost on disk: raw rows, packed blocks, roll-ups, per day at the achieved rate.

Bytes are measured, not assumed: ``pg_total_relation_size`` (heap, TOAST and
every index), for ``samples`` (raw rows, the write buffer) after the run, and for
``sample_blocks`` and ``sample_rollups`` after ``roll_up`` has run once over
everything (its ``now`` set past the last hour plus the packing delay, so every
minute and hour bucket is complete and every hour packed). Per day: samples =
rate x 86,400 x packed bytes per check; roll-ups = connections x buckets a day per
resolution (86,400 / max(bucket width, interval): 1,440 minute rows and 24 hour
rows for an interval of at most a minute). A run of minutes packs partial hours,
so its ``packed_bytes_per_check`` errs high; ``--storage-only`` (``packing``)
measures whole hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import BenchError
from connmgr.storage.samples import Retention, roll_up

DAY_S: Final = 86_400
BUCKET_S: Final = {"minute": 60, "hour": 3600}
PAST_THE_LAST_HOUR: Final = timedelta(hours=2, minutes=5)  # rolled, then packed


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
class StorageFigures:
    samples: TableCost
    rollups: TableCost
    samples_rows_per_day: float
    rollup_rows_per_day: dict[str, float]
    packed_bytes_per_check: float

    @property
    def samples_bytes_per_day(self) -> float:
        return self.samples_rows_per_day * self.packed_bytes_per_check

    @property
    def rollup_bytes_per_day(self) -> float:
        return sum(self.rollup_rows_per_day.values()) * self.rollups.bytes_per_row

    def rollup_bytes_retained(self, retention: Retention) -> float:
        """Roll-up bytes held once each resolution has filled its retention."""
        days = {"minute": retention.minute, "hour": retention.hour}
        return sum(
            rows * self.rollups.bytes_per_row * (days[resolution] / timedelta(days=1))
            for resolution, rows in self.rollup_rows_per_day.items()
        )


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
    report = await roll_up(engine, datetime.now(UTC) + PAST_THE_LAST_HOUR)
    if not report.ran:
        raise BenchError("the roll-up did not run (another holds its lock)")
    rollups = await table_cost(engine, "sample_rollups")
    blocks = await table_cost(engine, "sample_blocks")
    if report.samples_packed < samples.rows:
        raise BenchError(f"only {report.samples_packed} of {samples.rows} samples were packed")
    per_day = {
        resolution: connections * DAY_S / max(width, interval_s)
        for resolution, width in BUCKET_S.items()
    }
    packed = blocks.bytes / samples.rows if samples.rows else 0.0
    return StorageFigures(samples, rollups, checks_per_s * DAY_S, per_day, packed)
