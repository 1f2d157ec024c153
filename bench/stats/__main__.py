"""The stats bench: the window statistics of ``GET /api/stats``, read from minute roll-up
rows (in SQL) and from the same buckets packed (in Python).

    .venv/bin/python -m bench.stats [--connections 100] [--days 7] [--reads 5]
                                    [--record [DIR]]

It creates a fresh PostgreSQL database (dropped after), migrates it, and writes
``--days`` of roll-ups for ``--connections`` connections of one tenant checked every
60 s: a minute row per check (1% failures, latencies log-normal around 2 ms to the
microsecond) and an hour row per hour, with both checkpoints at the end, as
``roll_up`` leaves them. It reads ``connection_stats`` for one connection and for the
tenant over 24 h, 7 d (minute buckets) and 30 d (hour buckets), ``--reads`` times
each; then packs the rows into blocks (``pack_rollups``: minutes by the hour, hours
by the day), checks every answer is the same, and reads again.
Figures, each a p50 over the reads:

- ``minute_buckets``: the minute roll-ups written;
- ``<case>_rows_ms``: wall time with the buckets as rows (PostgreSQL sums and ranks
  them);
- ``<case>_packed_ms`` and ``<case>_packed_cpu_ms``: wall time, and this process's
  CPU, with them packed (this process decodes, sums and ranks them: the API's CPU);

for ``<case>`` in ``connection_24h``, ``connection_7d``, ``connection_30d``,
``tenant_24h``, ``tenant_7d``, ``tenant_30d``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import (
    BenchError,
    bench_main,
    bench_parser,
    count,
    figure,
    migrated_database,
    percentile,
    phase,
)
from connmgr.storage.database import write_transaction
from connmgr.storage.reads.sample_stats import ConnectionStats, connection_stats
from connmgr.storage.rollup_packing import pack_rollups
from connmgr.storage.rollups import nearest_rank
from connmgr.storage.tables import rollup_checkpoints, sample_rollups

TENANT: Final = "bench"
END: Final = datetime(2026, 1, 12, tzinfo=UTC)
WINDOWS: Final = {"24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
CHUNK: Final = 10_000


@dataclass(frozen=True, slots=True)
class Options:
    connections: int
    days: int
    reads: int
    record: Path | None = None


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = bench_parser("stats")
    parser.add_argument("--connections", type=count, default=100)
    parser.add_argument("--days", type=count, default=7, help="days of roll-ups written")
    parser.add_argument("--reads", type=count, default=5, help="reads of each window")
    args = parser.parse_args(argv)
    return Options(args.connections, args.days, args.reads, args.record)


async def run(options: Options) -> None:
    async with migrated_database() as (_, engine):
        ids = [f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(options.connections)]
        with phase(f"{options.days} days of roll-ups of {len(ids)} connections"):
            written = await _fill(engine, ids, options.days)
        cases = {
            f"{who}_{name}": (connection_id, window)
            for who, connection_id in (("connection", ids[0]), ("tenant", None))
            for name, window in WINDOWS.items()
        }
        with phase("reads of the rows"):
            rows = {
                case: await _timed(engine, *args, options.reads) for case, args in cases.items()
            }
        with phase("packing"):
            packed_count = await pack_rollups(engine, "minute", 5000)
            await pack_rollups(engine, "hour", 5000)
        if packed_count != written:
            raise BenchError(f"{packed_count} of {written} minute buckets were packed")
        with phase("reads of the blocks"):
            packed = {
                case: await _timed(engine, *args, options.reads) for case, args in cases.items()
            }
    figure("minute_buckets", written)
    for case in cases:
        before, after = rows[case], packed[case]
        _same(case, before.answer, after.answer)
        figure(f"{case}_rows_ms", before.wall_ms)
        figure(f"{case}_packed_ms", after.wall_ms)
        figure(f"{case}_packed_cpu_ms", after.cpu_ms)


@dataclass(frozen=True, slots=True)
class Timed:
    answer: ConnectionStats
    wall_ms: float
    cpu_ms: float


async def _timed(
    engine: AsyncEngine, connection_id: str | None, window: timedelta, reads: int
) -> Timed:
    walls: list[float] = []
    cpus: list[float] = []
    answer = None
    for _ in range(reads):
        wall, cpu = time.perf_counter(), time.process_time()
        answer = await connection_stats(engine, TENANT, connection_id, window, END)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    if answer is None or not answer.count:
        raise BenchError("a read of the bench's roll-ups found no checks")
    return Timed(answer, percentile(walls, 0.5), percentile(cpus, 0.5))


def _same(case: str, rows: ConnectionStats, packed: ConnectionStats) -> None:
    uptime = rows.uptime_percent or 0.0
    drift = abs(uptime - (packed.uptime_percent or 0.0))
    exact = rows.model_copy(update={"uptime_percent": packed.uptime_percent})
    if exact != packed or drift > 1e-9 * max(uptime, 1.0):
        raise BenchError(f"{case}: the packed answer differs: {rows} against {packed}")


async def _fill(engine: AsyncEngine, ids: list[str], days: int) -> int:
    """A minute row per connection per minute, an hour row per hour; the checkpoints."""
    rng = random.Random(15)
    start = END - timedelta(days=days)
    written = 0
    chunk: list[dict[str, object]] = []
    for connection_id in ids:
        for hour in range(days * 24):
            moment = start + timedelta(hours=hour)
            minutes = [_minute(rng, moment + timedelta(minutes=m)) for m in range(60)]
            chunk.extend(
                {**bucket, "connection_id": connection_id, "tenant": TENANT} for bucket in minutes
            )
            chunk.append(
                {**_hour(moment, minutes), "connection_id": connection_id, "tenant": TENANT}
            )
            written += len(minutes)
            if len(chunk) >= CHUNK:
                await _write(engine, chunk)
                chunk = []
    if chunk:
        await _write(engine, chunk)
    async with write_transaction(engine) as connection:
        await connection.execute(
            insert(rollup_checkpoints),
            [{"resolution": r, "rolled_until": END} for r in ("minute", "hour")],
        )
        await connection.execute(text("ANALYZE sample_rollups"))
    return written


def _minute(rng: random.Random, moment: datetime) -> dict[str, object]:
    latency = round(rng.lognormvariate(0.7, 0.5), 3)
    failed = rng.random() < 0.01
    return {
        "resolution": "minute",
        "bucket_start": moment,
        "count": 1,
        "failures": int(failed),
        **{f"latency_{band}_ms": latency for band in ("p50", "p95", "p99", "max")},
    }


def _hour(moment: datetime, minutes: list[dict[str, object]]) -> dict[str, object]:
    ordered = sorted(float(str(bucket["latency_max_ms"])) for bucket in minutes)
    return {
        "resolution": "hour",
        "bucket_start": moment,
        "count": len(minutes),
        "failures": sum(int(str(bucket["failures"])) for bucket in minutes),
        "latency_p50_ms": nearest_rank(ordered, 50),
        "latency_p95_ms": nearest_rank(ordered, 95),
        "latency_p99_ms": nearest_rank(ordered, 99),
        "latency_max_ms": ordered[-1],
    }


async def _write(engine: AsyncEngine, rows: list[dict[str, object]]) -> None:
    async with write_transaction(engine) as connection:
        await connection.execute(insert(sample_rollups), rows)


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main("stats", parse_options, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
