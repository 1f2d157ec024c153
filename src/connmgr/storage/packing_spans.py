"""One span of packing: the next whole connection-hours of an hour, moved into blocks.

``storage.sample_packing`` packs an hour span by span, each in a transaction of its
own; this is what one span does inside it. Contracts:

- **whole connection-hours**: a span takes at most ``batch`` raw samples, cut back
  to whole connection-hours (all of a connection id's samples of the hour, whatever
  their tenant; ids are unique); a connection-hour larger than a batch is taken whole;
- **keyset**: the spans of an hour go by connection id, each searching
  ``ix_samples_connection_time`` from the last one before it, so an hour costs the
  index entries of its samples once, not once per span (docs/decisions.md,
  "Packing spans go on from the last connection");
- **merged, never twice**: the span's samples are merged into the block already
  held for their (connection, hour, tenant), if late samples join it, and a sample
  whose ``check_id`` the block holds is dropped; their raw rows are deleted in the
  same transaction, so a crash loses nothing and packs nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.packed_blocks import BLOCK, packed_of
from connmgr.storage.rollups import bucket_start, dialect_insert
from connmgr.storage.sample_codec import PackedSample, decode_block, encode_block
from connmgr.storage.tables import sample_blocks, samples

__all__ = ["PackedSpan", "pack_span"]


@dataclass(frozen=True, slots=True)
class PackedSpan:
    """What one span packed: ``moved`` samples of ``hour``, up to connection ``last``."""

    moved: int
    hour: datetime
    last: str


async def pack_span(
    connection: AsyncConnection, until: datetime, batch: int, previous: PackedSpan | None
) -> PackedSpan | None:
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
    return PackedSpan(len(rows), start, key)


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
