"""Raw probe samples: writing them, rolling them up, and keeping both tables bounded.

Contracts:

- ``insert_samples`` writes inside the caller's transaction, so a batch commits (or
  not) with whatever else the caller writes; a ``check_id`` already stored is
  skipped, so a redelivered check never counts twice.
- ``roll_up`` (the prober pool calls it on a timer) aggregates raw samples into
  ``sample_rollups`` at ``minute`` and ``hour`` resolution — both straight from the
  raw samples: count, failures (``outcome != "ok"``), exact nearest-rank
  p50/p95/p99 and max latency — then applies retention:

  - **complete buckets only**: ``[start, end)`` is rolled once ``end + grace <= now``
    (``grace`` 2 minutes by default, so a batching prober's slightly late writes count);
  - **late samples**: one arriving for a bucket already rolled (``checked_at`` before
    the checkpoint) stays raw (``recent_samples`` shows it) but enters no roll-up and
    no ``connection_stats`` figure: buckets are never re-opened;
  - **bounded**: one transaction per span of at most ``batch`` raw samples (or one
    bucket, if a single bucket holds more), deletions ``batch`` rows per transaction;
  - **crash-safe and idempotent**: a span's roll-ups and its checkpoint commit
    together; a crash loses at most the transaction in flight, redone by the next
    run; a second run with the same ``now`` changes nothing;
  - **retention** (``Retention``): raw samples older than ``now - raw`` are deleted,
    but never before both resolutions have rolled past them; minute roll-ups older
    than ``now - minute``, hour roll-ups older than ``now - hour`` are deleted. The
    statistics read minute roll-ups for windows of up to 7 days only
    (``reads.sample_stats``), so by default they are kept 8 days and hour roll-ups 90:
    at 10,000 connections that is ~14 million minute rows a day kept 8 days, not 90;
  - **packing** (``sample_packing``, issue 15): last, the raw samples of each
    connection's hour are moved into one packed block once both resolutions have
    rolled past it and it ended ``RAW_KEPT_FOR`` + ``grace`` ago; blocks are deleted
    by whole hours once entirely older than ``now - raw``, and ``samples_deleted``
    counts their samples too;
  - **packed roll-ups** (``rollup_packing``, issue 15): then the minute buckets of
    each connection's hour, and its hour buckets of each day, are moved into one
    block once their resolution has rolled past that hour or day (``rollups_packed``
    counts them); blocks expire whole once entirely older than their resolution's
    cutoff, and ``rollups_deleted`` counts their buckets too;
  - **one at a time**: on PostgreSQL a run holds ``pg_try_advisory_xact_lock`` in a
    transaction of its own for its whole duration, and a run that finds it taken
    returns ``RollupReport()`` (``ran=False``) at once. On SQLite the database
    serialises writers and every span re-reads the checkpoint, so concurrent runs
    are safe.

Every stored moment is UTC (SQLite hands them back naive: read them with ``as_utc``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Delete, delete, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.database import is_sqlite, write_transaction
from connmgr.storage.event_log import as_utc
from connmgr.storage.rollup_packing import delete_rollup_blocks, pack_rollups
from connmgr.storage.rollups import (
    BUCKET_WIDTHS,
    Resolution,
    dialect_insert,
    read_checkpoints,
    roll_resolution,
)
from connmgr.storage.sample_codec import to_micros
from connmgr.storage.sample_packing import delete_blocks, pack_samples
from connmgr.storage.tables import sample_rollups
from connmgr.storage.tables import samples as samples_table

DEFAULT_GRACE: Final = timedelta(minutes=2)
_ROLLUP_LOCK: Final = 0x636F6E6E726F6C6C  # "connroll"


@dataclass(frozen=True, slots=True)
class NewSample:
    """One probe result about to be stored; ``check_id`` is unique per check run."""

    check_id: str
    connection_id: str
    tenant: str
    checked_at: datetime
    outcome: str
    latency_ms: float
    phases: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long raw samples and each roll-up resolution are kept (module contract)."""

    raw: timedelta = timedelta(days=7)
    minute: timedelta = timedelta(days=8)
    hour: timedelta = timedelta(days=90)


DEFAULT_RETENTION: Final = Retention()


@dataclass(frozen=True, slots=True)
class RollupReport:
    """What one ``roll_up`` did; ``ran`` is False when another replica was running."""

    ran: bool = False
    minute_buckets: int = 0
    hour_buckets: int = 0
    samples_deleted: int = 0
    rollups_deleted: int = 0
    samples_packed: int = 0
    rollups_packed: int = 0


async def insert_samples(connection: AsyncConnection, samples: Sequence[NewSample]) -> set[str]:
    """Insert ``samples`` in the caller's transaction; return the check ids inserted.

    Rows whose ``check_id`` is already stored (or repeated within ``samples``) are
    skipped by ``ON CONFLICT DO NOTHING`` and absent from the result. One statement,
    which SQLAlchemy sends as few multi-row ``INSERT … RETURNING``.
    """
    if not samples:
        return set()
    c = samples_table.c
    statement = (
        dialect_insert(connection, samples_table)
        .on_conflict_do_nothing(index_elements=[c.check_id])
        .returning(c.check_id)
    )
    result = await connection.execute(statement, [_row_of(sample) for sample in samples])
    return {row.check_id for row in result}


def _row_of(sample: NewSample) -> dict[str, object]:
    return {
        "check_id": sample.check_id,
        "connection_id": sample.connection_id,
        "tenant": sample.tenant,
        "checked_at": as_utc(sample.checked_at),
        "outcome": sample.outcome,
        # Kept to the microsecond, as packed blocks keep them (``sample_codec``).
        "latency_ms": to_micros(sample.latency_ms) / 1000,
        "phases": {name: to_micros(value) / 1000 for name, value in sample.phases.items()},
    }


async def roll_up(
    engine: AsyncEngine,
    now: datetime,
    *,
    retention: Retention = DEFAULT_RETENTION,
    batch: int = 5000,
    grace: timedelta = DEFAULT_GRACE,
) -> RollupReport:
    """Roll every complete bucket up, then apply retention (see the module contract)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    now = as_utc(now)
    async with _exclusive(engine) as acquired:
        if not acquired:
            return RollupReport()
        minute = await roll_resolution(engine, "minute", now - grace, batch)
        hour = await roll_resolution(engine, "hour", now - grace, batch)
        deleted_samples = await _delete_samples(engine, now - retention.raw, batch)
        deleted_samples += await delete_blocks(engine, now - retention.raw, batch)
        deleted_rollups = 0
        kept_for: dict[Resolution, timedelta] = {
            "minute": retention.minute,
            "hour": retention.hour,
        }
        for resolution, kept in kept_for.items():
            deleted_rollups += await _delete_rollups(engine, resolution, now - kept, batch)
            deleted_rollups += await delete_rollup_blocks(engine, resolution, now - kept, batch)
        packed = await pack_samples(engine, now, grace, batch)
        rollups_packed = sum([await pack_rollups(engine, r, batch) for r in BUCKET_WIDTHS])
    return RollupReport(
        True, minute, hour, deleted_samples, deleted_rollups, packed, rollups_packed
    )


@asynccontextmanager
async def _exclusive(engine: AsyncEngine) -> AsyncIterator[bool]:
    if is_sqlite(str(engine.url)):
        yield True
        return
    async with engine.connect() as connection, connection.begin():
        # Held by this otherwise idle transaction while the work runs on other
        # connections; a process that dies drops its connection, and so the lock.
        lock = text("SELECT pg_try_advisory_xact_lock(:key)")
        yield bool(await connection.scalar(lock, {"key": _ROLLUP_LOCK}))


async def _delete_samples(engine: AsyncEngine, older_than: datetime, batch: int) -> int:
    async with engine.connect() as connection:
        checkpoints = await read_checkpoints(connection)
    if len(checkpoints) < len(BUCKET_WIDTHS):
        return 0  # a resolution has rolled nothing yet: every sample may still be needed
    cutoff = min(older_than, *checkpoints.values())
    c = samples_table.c
    doomed = select(c.id).where(c.checked_at < cutoff).limit(batch)
    return await _delete_in_batches(engine, delete(samples_table).where(c.id.in_(doomed)), batch)


async def _delete_rollups(
    engine: AsyncEngine, resolution: Resolution, older_than: datetime, batch: int
) -> int:
    c = sample_rollups.c
    key = (c.connection_id, c.resolution, c.bucket_start)
    old = (c.resolution == resolution, c.bucket_start < older_than)
    doomed = select(*key).where(*old).limit(batch)
    statement = delete(sample_rollups).where(tuple_(*key).in_(doomed))
    return await _delete_in_batches(engine, statement, batch)


async def _delete_in_batches(engine: AsyncEngine, statement: Delete, batch: int) -> int:
    """Run ``statement`` (which deletes at most ``batch`` rows) until it runs dry."""
    total = 0
    while True:
        async with write_transaction(engine) as connection:
            deleted = (await connection.execute(statement)).rowcount
        total += deleted
        if deleted < batch:
            return total
