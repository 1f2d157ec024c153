"""Probe storage per check once packed (``--storage-only``): full hours, no probers.

A live run of a few minutes leaves each connection a handful of samples an hour,
so its blocks say little about the steady state, where a block holds a whole
hour (60 samples at a 60 s interval, 360 at 10 s). This mode fills a fresh
database with ``--hours`` of samples of ``--connections`` connections at
``--interval``, shaped like the prober's: ids ``scheduled:<sequence>`` with the
stream sequence stepping by the fleet's firings, ``checked_at`` at each
connection's phase plus a lag (exponential, mean 300 ms, the live p50), latencies
and their phases (resolve, connect, query) log-normal around 2 ms to the
microsecond, 1% failures with a timeout's latency. The samples go through
``insert_samples`` in batches of 500 (the prober's flushes); then ``roll_up``
packs every hour, and after ``VACUUM`` the figures are:

- ``raw_bytes_per_check``: ``samples`` before packing (heap, TOAST, indexes) per row;
- ``packed_bytes_per_check``: ``sample_blocks`` (heap, TOAST, indexes) over every
  check stored;
- ``pack_cpu_us_per_check``: this process's CPU per check packing them and the
  minute roll-ups (the codecs, the SQL client; PostgreSQL's own CPU is not in it),
  and for comparison ``rollup_cpu_us_per_check``, the same for the minute and hour
  roll-ups first;
- ``samples_bytes_per_day`` (packed, at ``connections / interval`` checks/s),
  ``raw_buffer_bytes`` (the raw rows held at most: 2 hours and the grace),
  ``samples_retained_gib`` (7 days packed plus the buffer), and
  ``retained_bytes_per_check``: that over the 7 days' checks — the figure issue 15
  holds to 60 bytes;
- the roll-ups: ``rollup_bytes_per_row`` (``sample_rollups`` with every bucket a row,
  before packing), ``minute_rollup_packed_bytes`` and ``hour_rollup_packed_bytes``
  (``rollup_blocks`` per bucket packed, ``storage.packed_rollup_cost``; hours fill a
  whole block only with ``--hours 24``, so fewer hours err high), and per day and
  retained (minute buckets 8 days, hour buckets 90) ``rollups_bytes_per_day`` and
  ``rollups_retained_gib`` as stored, with ``rollups_bytes_per_day_as_rows`` and
  ``rollups_retained_gib_as_rows`` had they stayed rows.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import figure, migrated_database, note, phase
from bench.prober.options import Options
from bench.prober.storage import (
    RollupCost,
    TableCost,
    buckets_per_day,
    packed_rollup_cost,
    packing_horizon,
    rollup_cost,
    rollups_retained,
    table_cost,
)
from connmgr.storage.database import create_engine, write_transaction
from connmgr.storage.samples import (
    DEFAULT_RETENTION,
    NewSample,
    insert_samples,
    roll_up,
)

FLUSH: Final = 500
LAG_MEAN_S: Final = 0.3
BUFFER_HELD: Final = timedelta(hours=2, minutes=2)
GIB: Final = 1024**3
_START: Final = datetime(2026, 1, 5, tzinfo=UTC)


def fleet_samples(options: Options, rng: random.Random) -> Iterator[NewSample]:
    """The fleet's samples in firing order (module docstring)."""
    ids = [f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(options.connections)]
    phases = [rng.uniform(0, options.interval) for _ in ids]
    firings = options.hours * 3600 // options.interval
    sequence = 0
    for firing in range(firings):
        for connection_id, offset in zip(ids, phases, strict=True):
            sequence += 1
            due = _START + timedelta(seconds=firing * options.interval + offset)
            yield _sample(rng, f"scheduled:{sequence}", connection_id, due)


def _sample(rng: random.Random, check_id: str, connection_id: str, due: datetime) -> NewSample:
    checked_at = due + timedelta(seconds=rng.expovariate(1 / LAG_MEAN_S))
    if rng.random() < 0.01:
        return NewSample(check_id, connection_id, "bench", checked_at, "timeout", 5000.0, {})
    resolve, connect, query = (rng.lognormvariate(-0.7, 0.5) for _ in range(3))
    phases = {"resolve": round(resolve, 3), "connect": round(connect, 3), "query": round(query, 3)}
    latency = round(sum(phases.values()) + rng.uniform(0, 0.05), 3)
    return NewSample(check_id, connection_id, "bench", checked_at, "ok", latency, phases)


async def measure_packing(options: Options) -> None:
    async with migrated_database() as (url, engine):
        checks = await _fill(engine, options)
        raw = await table_cost(engine, "samples")
        end = packing_horizon(_START + timedelta(hours=options.hours))
        with phase("roll-ups as rows"):
            rolling = time.process_time()
            rows = await rollup_cost(engine, end)
            rolling = time.process_time() - rolling
        with phase("packing"):
            cpu = time.process_time()
            report = await roll_up(engine, end)
            cpu = time.process_time() - cpu
        await _vacuum(url)
        packed = await table_cost(engine, "sample_blocks")
        rollups = RollupCost(rows, await packed_rollup_cost(engine))
        left = await table_cost(engine, "samples")
    if report.samples_packed != checks:
        note(f"{checks - report.samples_packed} of {checks} samples were not packed")
    per_check = packed.bytes / checks
    print_packing(options, raw, per_check, cpu / checks)
    figure("rollup_cpu_us_per_check", rolling / checks * 1e6)
    print_rollups(options, rollups)
    note(f"{packed.rows} blocks of {checks / max(packed.rows, 1):.0f} samples on average")
    note(
        f"samples after packing and VACUUM: {left.rows} rows, {left.bytes} bytes (empty "
        "index pages stay allocated for the next hours' rows: the buffer, counted apart)"
    )


def print_packing(options: Options, raw: TableCost, per_check: float, cpu_s: float) -> None:
    per_day = options.connections / options.interval * 86_400
    buffer = per_day * (BUFFER_HELD / timedelta(days=1)) * raw.bytes_per_row
    days = DEFAULT_RETENTION.raw / timedelta(days=1)
    figure("checks_per_day", per_day)
    figure("raw_bytes_per_check", raw.bytes_per_row)
    figure("packed_bytes_per_check", per_check)
    figure("pack_cpu_us_per_check", cpu_s * 1e6)
    figure("samples_bytes_per_day", per_day * per_check)
    figure("raw_buffer_bytes", buffer)
    retained = days * per_day * per_check + buffer
    figure("samples_retained_gib", retained / GIB)
    figure("retained_bytes_per_check", retained / (days * per_day))


def print_rollups(options: Options, rollups: RollupCost) -> None:
    """The roll-ups' cost per day and retained: as rows (before issue 15 packed them)
    and as stored (packed)."""
    per_day = buckets_per_day(options.connections, options.interval)
    row_bytes = rollups.rows.bytes_per_row
    kept = {"minute": DEFAULT_RETENTION.minute, "hour": DEFAULT_RETENTION.hour}
    held_as_rows = sum(n * row_bytes * (kept[r] / timedelta(days=1)) for r, n in per_day.items())
    stored = sum(n * rollups.bytes_per_bucket(r) for r, n in per_day.items())
    figure("rollup_bytes_per_row", row_bytes)
    figure("minute_rollup_packed_bytes", rollups.packed["minute"])
    figure("hour_rollup_packed_bytes", rollups.packed["hour"])
    figure("rollups_bytes_per_day_as_rows", sum(per_day.values()) * row_bytes)
    figure("rollups_bytes_per_day", stored)
    figure("rollups_retained_gib_as_rows", held_as_rows / GIB)
    figure("rollups_retained_gib", rollups_retained(rollups, per_day, DEFAULT_RETENTION) / GIB)


async def _fill(engine: AsyncEngine, options: Options) -> int:
    rng = random.Random(15)
    batch: list[NewSample] = []
    count = 0
    with phase(f"{options.hours} h of {options.connections} connections every {options.interval}s"):
        for sample in fleet_samples(options, rng):
            batch.append(sample)
            if len(batch) == FLUSH:
                count += await _flush(engine, batch)
                batch = []
        if batch:
            count += await _flush(engine, batch)
    return count


async def _flush(engine: AsyncEngine, batch: list[NewSample]) -> int:
    async with write_transaction(engine) as connection:
        return len(await insert_samples(connection, batch))


async def _vacuum(url: str) -> None:
    """``VACUUM`` (outside a transaction) so deleted raw rows stop counting."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(
                text("VACUUM samples, sample_blocks, sample_rollups, rollup_blocks")
            )
    finally:
        await engine.dispose()
