"""Packing raw probe samples into hourly blocks, reading them back, and expiring blocks.

The ``samples`` table is the write buffer: the prober inserts there (batched, in
its flush's transaction; a ``check_id`` stored there is never stored twice), and
every statistic of the last hour and every roll-up reads it. ``pack_samples``
(run by ``samples.roll_up``, under its lock) moves the samples of each
connection's hour into one ``sample_blocks`` row (keyed by connection, hour and tenant;
``storage.sample_codec``) once

- both roll-up resolutions have rolled past that hour, and
- the hour ended at least ``RAW_KEPT_FOR`` + grace ago, so the raw-only
  statistics window (``reads.sample_stats``) and the roll-up tail read raw rows.

Contracts:

- **one transaction per span**: the packed rows of at most ``batch`` raw samples
  (whole connection-hours; one connection-hour may exceed it) are written, merged
  into an existing block when late samples join it, and their raw rows deleted, in
  one transaction: a crash loses nothing and packs nothing twice; a second run
  finds no raw rows to pack. The spans of an hour go by connection id, each
  searching ``ix_samples_connection_time`` from the last one before it, so an hour
  costs the index entries of its samples once, not once per span;
- **the ``packed`` checkpoint** (a row of ``rollup_checkpoints``) moves before any
  block of an hour is written: blocks exist only for hours before it, so a read of
  a span starting at or after it never needs them (``blocks_checkpoint``);
- **duplicates**: a late raw sample whose ``check_id`` its block already holds is
  dropped at packing. The ``check_id`` uniqueness of the buffer covers redeliveries
  within ``RAW_KEPT_FOR`` (JetStream redelivers within ``max_deliver x ack_wait``,
  5 minutes for the prober); docs/decisions.md, "Issue 15: packed probe samples";
- **retention** goes by whole blocks: a block is deleted once its hour is entirely
  older than the raw cutoff, so a sample may outlive the cutoff by under an hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, delete, func, select, tuple_
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import as_utc
from connmgr.storage.rollups import (
    BUCKET_WIDTHS,
    bucket_start,
    dialect_insert,
    read_checkpoints,
)
from connmgr.storage.sample_codec import PackedSample, decode_block, encode_block
from connmgr.storage.tables import rollup_checkpoints, sample_blocks, samples

BLOCK: Final = timedelta(hours=1)
RAW_KEPT_FOR: Final = timedelta(hours=1)
"""Samples stay raw at least this long after their hour ends (the raw-only stats window)."""
PACKED: Final = "packed"


@dataclass(frozen=True, slots=True)
class StoredSample:
    """A sample read back from either table."""

    connection_id: str
    tenant: str
    sample: PackedSample


async def blocks_checkpoint(connection: AsyncConnection) -> datetime | None:
    """Blocks exist only for hours starting before this moment (None: no block yet)."""
    c = rollup_checkpoints.c
    moment = await connection.scalar(select(c.rolled_until).where(c.resolution == PACKED))
    return None if moment is None else as_utc(moment)


async def pack_samples(engine: AsyncEngine, now: datetime, grace: timedelta, batch: int) -> int:
    """Pack every raw sample of a packable hour (module contract); return samples packed."""
    async with write_transaction(engine) as connection:
        until = await _horizon(connection, now, grace)
        if until is None:
            return 0
        await _advance_checkpoint(connection, until)
    packed = 0
    span: _Span | None = None
    while True:
        async with write_transaction(engine) as connection:
            span = await _pack_span(connection, until, batch, span)
        if span is None:
            return packed
        packed += span.moved


async def delete_blocks(engine: AsyncEngine, older_than: datetime, batch: int) -> int:
    """Delete blocks whose whole hour lies before ``older_than``; return their samples."""
    c = sample_blocks.c
    key = (c.connection_id, c.bucket_start, c.tenant)
    total = 0
    while True:
        async with write_transaction(engine) as connection:
            expired = c.bucket_start <= as_utc(older_than) - BLOCK
            query = select(*key, c.count.label("samples")).where(expired).limit(batch)
            doomed = (await connection.execute(query)).all()
            if doomed:
                keys = [(row.connection_id, row.bucket_start, row.tenant) for row in doomed]
                await connection.execute(delete(sample_blocks).where(tuple_(*key).in_(keys)))
        total += sum(int(row.samples) for row in doomed)
        if len(doomed) < batch:
            return total


@dataclass(frozen=True, slots=True)
class BlockPage:
    """Samples of some blocks, newest first; ``oldest_start`` is the oldest block's
    hour (None: no block), ``exhausted`` whether no older block matched."""

    samples: list[StoredSample]
    oldest_start: datetime | None
    exhausted: bool


async def read_blocks(
    connection: AsyncConnection,
    conditions: Iterable[ColumnElement[bool]],
    since: datetime | None,
    until: datetime | None,
    *,
    newest: int | None = None,
) -> BlockPage:
    """The samples checked in ``[since, until)`` of the blocks matching ``conditions``
    (only the ``newest`` blocks, if given), newest first."""
    since = None if since is None else as_utc(since)
    until = None if until is None else as_utc(until)
    c = sample_blocks.c
    query = select(c.connection_id, c.tenant, c.bucket_start, c.data).where(*conditions)
    if since is not None:
        query = query.where(c.bucket_start > as_utc(since) - BLOCK)
    if until is not None:
        query = query.where(c.bucket_start < as_utc(until))
    query = query.order_by(c.bucket_start.desc(), c.connection_id.desc())
    if newest is not None:
        query = query.limit(newest)
    rows = (await connection.execute(query)).all()
    found: list[StoredSample] = []
    for row in rows:
        for sample in reversed(decode_block(as_utc(row.bucket_start), row.data)):
            in_range = (since is None or sample.checked_at >= since) and (
                until is None or sample.checked_at < until
            )
            if in_range:
                found.append(StoredSample(row.connection_id, row.tenant, sample))
    oldest = as_utc(rows[-1].bucket_start) if rows else None
    return BlockPage(found, oldest, newest is None or len(rows) < newest)


def packed_of(row: Row[Any]) -> PackedSample:
    """A raw ``samples`` row as the codec holds it."""
    return PackedSample(
        row.check_id, as_utc(row.checked_at), row.outcome, row.latency_ms, dict(row.phases)
    )


async def _horizon(connection: AsyncConnection, now: datetime, grace: timedelta) -> datetime | None:
    checkpoints = await read_checkpoints(connection)
    if len(checkpoints) < len(BUCKET_WIDTHS):
        return None  # a resolution has rolled nothing yet
    ready = min(as_utc(now) - RAW_KEPT_FOR - grace, *checkpoints.values())
    return bucket_start(ready, BLOCK)


async def _advance_checkpoint(connection: AsyncConnection, until: datetime) -> None:
    current = await blocks_checkpoint(connection)
    if current is not None and current >= until:
        return
    statement = dialect_insert(connection, rollup_checkpoints).values(
        resolution=PACKED, rolled_until=until
    )
    await connection.execute(
        statement.on_conflict_do_update(index_elements=["resolution"], set_={"rolled_until": until})
    )


@dataclass(frozen=True, slots=True)
class _Span:
    """What one span packed: ``moved`` samples of ``hour``, up to connection ``last``."""

    moved: int
    hour: datetime
    last: str


async def _pack_span(
    connection: AsyncConnection, until: datetime, batch: int, previous: _Span | None
) -> _Span | None:
    """Pack the next whole connection-hours (at most ``batch`` samples unless one
    connection-hour holds more) of the oldest hour with raw samples before ``until``.

    The next ones after the ``previous`` span's last connection if it packed the same
    hour: each span searches ``ix_samples_connection_time`` from there, not from the
    first connection again. A connection-hour is all of a connection id's samples of
    the hour, whatever their tenant (ids are unique; a span never splits one)."""
    c = samples.c
    oldest = await connection.scalar(select(func.min(c.checked_at)).where(c.checked_at < until))
    if oldest is None:
        return None
    start = bucket_start(oldest, BLOCK)
    in_hour = (c.checked_at >= start, c.checked_at < start + BLOCK)
    after = previous.last if previous is not None and previous.hour == start else None
    rows = await _span_rows(connection, in_hour, batch, after)
    if not rows and after is not None:  # samples came late behind the key: round again
        rows = await _span_rows(connection, in_hour, batch, None)
    if len(rows) == batch:
        last = rows[-1].connection_id
        whole = [row for row in rows if row.connection_id != last]
        if whole:
            rows = whole
        else:  # one connection-hour larger than a batch: take it whole
            every = select(samples).where(c.connection_id == last, *in_hour)
            rows = list(await connection.execute(every))
    key = rows[-1].connection_id  # the last in the database's order, as it compares them
    groups: dict[tuple[str, str], list[Row[Any]]] = {}
    for row in sorted(rows, key=lambda row: (row.checked_at, row.id)):
        groups.setdefault((row.connection_id, row.tenant), []).append(row)
    await _write_blocks(connection, start, groups)
    await connection.execute(delete(samples).where(c.id.in_([row.id for row in rows])))
    return _Span(len(rows), start, key)


async def _span_rows(
    connection: AsyncConnection,
    in_hour: Sequence[ColumnElement[bool]],
    batch: int,
    after: str | None,
) -> list[Row[Any]]:
    """The first ``batch`` samples of the hour by connection, after connection ``after``:
    a search of ``ix_samples_connection_time`` from there."""
    c = samples.c
    if connection.dialect.name == "sqlite":
        # Without statistics SQLite takes the hour for a sixteenth of the table, and
        # so would read all of it through ``ix_samples_time`` and sort it, in every
        # span; the oldest hour is rather a third of the raw buffer or more.
        in_hour = [func.likely(bound) for bound in in_hour]
    query = select(samples).where(*in_hour)
    if after is not None:
        query = query.where(c.connection_id > after)
    query = query.order_by(c.connection_id, c.checked_at).limit(batch)
    return list(await connection.execute(query))


async def _write_blocks(
    connection: AsyncConnection, start: datetime, groups: dict[tuple[str, str], list[Row[Any]]]
) -> None:
    c = sample_blocks.c
    ids = sorted({connection_id for connection_id, _ in groups})
    existing = await connection.execute(
        select(c.connection_id, c.tenant, c.data).where(
            c.connection_id.in_(ids), c.bucket_start == start
        )
    )
    held = {(row.connection_id, row.tenant): decode_block(start, row.data) for row in existing}
    blocks = []
    for (connection_id, tenant), rows in groups.items():
        merged = _merge(held.get((connection_id, tenant), []), [packed_of(row) for row in rows])
        blocks.append(
            {
                "connection_id": connection_id,
                "bucket_start": start,
                "tenant": tenant,
                "count": len(merged),
                "data": encode_block(start, merged),
            }
        )
    statement = dialect_insert(connection, sample_blocks)
    changes = {name: statement.excluded[name] for name in ("count", "data")}
    key = ["connection_id", "bucket_start", "tenant"]
    await connection.execute(
        statement.on_conflict_do_update(index_elements=key, set_=changes), blocks
    )


def _merge(held: Sequence[PackedSample], fresh: Sequence[PackedSample]) -> list[PackedSample]:
    """``held`` plus the ``fresh`` samples it lacks, by check time (held first on ties)."""
    known = {sample.check_id for sample in held}
    added = [sample for sample in fresh if sample.check_id not in known]
    return sorted([*held, *added], key=lambda sample: sample.checked_at)
