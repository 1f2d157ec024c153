"""Packing roll-ups into blocks, minute buckets by the hour and hour buckets by the
day, and expiring blocks.

A roll-up row costs ~270 bytes with its indexes, and at a check a minute there is
one minute row per check: thirteen times what the check's packed sample costs. So
once a resolution has rolled past a block's time, ``pack_rollups`` (run by
``samples.roll_up``, under its lock) moves each connection's buckets of that block
into one ``rollup_blocks`` row (``storage.rollup_blocks``). Buckets are never
re-opened (``storage.rollups``): a bucket behind its resolution's checkpoint is
final, so a block, once written, only changes by retention.

Contracts:

- **one transaction per span**: the blocks of at most ``batch`` rows (whole
  connection-blocks; one connection's block may exceed it) are written, merged into a
  block already held for their (connection, resolution, block, tenant), and their
  rows deleted, in one transaction: a crash loses nothing and packs nothing twice; a
  second run finds no row to pack. The spans of a block go by connection id, each
  searching the primary key from the last one's connection;
- **the packing checkpoint** of the resolution (``PACKED_CHECKPOINTS``) moves before
  any of its blocks is written, so blocks exist only for blocks before it;
- **retention** goes by whole blocks: a block is deleted once its whole time is
  older than its resolution's cutoff, so a bucket may outlive the cutoff by under a
  block (an hour of minutes, a day of hours).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from functools import partial
from typing import Any, Final

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.block_tables import (
    BlockCodec,
    PackedSpan,
    advance_checkpoint,
    delete_whole_blocks,
    pack_in_spans,
    whole_connection_blocks,
    write_blocks,
)
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import as_utc
from connmgr.storage.rollup_blocks import PACKED_CHECKPOINTS
from connmgr.storage.rollup_codec import SHAPES, PackedRollup, decode_rollups, encode_rollups
from connmgr.storage.rollups import Resolution, bucket_start, read_checkpoints
from connmgr.storage.tables import rollup_blocks, sample_rollups

__all__ = ["delete_rollup_blocks", "pack_rollups"]


async def pack_rollups(engine: AsyncEngine, resolution: Resolution, batch: int) -> int:
    """Pack the ``resolution`` buckets of every block that resolution has rolled past
    (module contract); return the buckets packed."""
    span = SHAPES[resolution].span
    async with write_transaction(engine) as connection:
        rolled = (await read_checkpoints(connection)).get(resolution)
        if rolled is None:
            return 0
        until = bucket_start(rolled, span)
        await advance_checkpoint(connection, PACKED_CHECKPOINTS[resolution], until)

    def next_span(
        connection: AsyncConnection, previous: PackedSpan | None
    ) -> Awaitable[PackedSpan | None]:
        return _pack_span(connection, resolution, until, batch, previous)

    return await pack_in_spans(engine, next_span)


async def delete_rollup_blocks(
    engine: AsyncEngine, resolution: Resolution, older_than: datetime, batch: int
) -> int:
    """Delete ``resolution`` blocks wholly before ``older_than``; return their buckets."""
    return await delete_whole_blocks(
        engine,
        rollup_blocks,
        older_than,
        batch,
        span=SHAPES[resolution].span,
        fixed={"resolution": resolution},
    )


async def _pack_span(
    connection: AsyncConnection,
    resolution: Resolution,
    until: datetime,
    batch: int,
    previous: PackedSpan | None,
) -> PackedSpan | None:
    """Pack the next whole connection-blocks of the oldest block before ``until`` that
    holds ``resolution`` rows: after the ``previous`` span's last connection, if it
    packed the same block."""
    r = sample_rollups.c
    span = SHAPES[resolution].span
    mine = r.resolution == resolution
    oldest = await connection.scalar(
        select(func.min(r.bucket_start)).where(mine, r.bucket_start < until)
    )
    if oldest is None:
        return None
    start = bucket_start(oldest, span)
    in_block = (mine, r.bucket_start >= start, r.bucket_start < start + span)
    after = previous.last if previous is not None and previous.start == start else None
    rows = await whole_connection_blocks(connection, sample_rollups, in_block, batch, after)
    groups: dict[tuple[str, str], list[PackedRollup]] = {}
    for row in rows:
        groups.setdefault((row.connection_id, row.tenant), []).append(_packed_of(row))
    await write_blocks(
        connection, rollup_blocks, _CODECS[resolution], start, groups, {"resolution": resolution}
    )
    ids = sorted({connection_id for connection_id, _ in groups})
    await connection.execute(delete(sample_rollups).where(*in_block, r.connection_id.in_(ids)))
    return PackedSpan(len(rows), start, rows[-1].connection_id)


def _packed_of(row: Row[Any]) -> PackedRollup:
    fields = row._mapping  # ``count``: a column here, a method of the row
    bands = (fields[f"latency_{band}_ms"] for band in ("p50", "p95", "p99", "max"))
    return PackedRollup(as_utc(fields["bucket_start"]), fields["count"], fields["failures"], *bands)


def _merge(held: list[PackedRollup], fresh: list[PackedRollup]) -> list[PackedRollup]:
    """``held`` plus the ``fresh`` buckets of minutes it lacks, by minute: a bucket,
    once packed, is never rewritten."""
    merged = {bucket.bucket_start: bucket for bucket in [*fresh, *held]}
    return [merged[moment] for moment in sorted(merged)]


_CODECS: Final = {
    resolution: BlockCodec(partial(encode_rollups, shape), partial(decode_rollups, shape), _merge)
    for resolution, shape in SHAPES.items()
}
