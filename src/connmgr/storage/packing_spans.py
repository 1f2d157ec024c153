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

from datetime import datetime
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.block_tables import (
    BLOCK,
    BlockCodec,
    PackedSpan,
    whole_connection_blocks,
    write_blocks,
)
from connmgr.storage.packed_blocks import packed_of
from connmgr.storage.rollups import bucket_start
from connmgr.storage.sample_codec import PackedSample, decode_block, encode_block
from connmgr.storage.tables import sample_blocks, samples

__all__ = ["PackedSpan", "pack_span"]


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
    after = previous.last if previous is not None and previous.start == start else None
    rows = await whole_connection_blocks(connection, samples, in_hour, batch, after)
    key = rows[-1].connection_id  # the last in the database's order, as it compares them
    groups: dict[tuple[str, str], list[PackedSample]] = {}
    for row in sorted(rows, key=lambda row: (row.checked_at, row.id)):
        groups.setdefault((row.connection_id, row.tenant), []).append(packed_of(row))
    await write_blocks(connection, sample_blocks, _CODEC, start, groups)
    await connection.execute(delete(samples).where(c.id.in_([row.id for row in rows])))
    return PackedSpan(len(rows), start, key)


def _merge(held: list[PackedSample], fresh: list[PackedSample]) -> list[PackedSample]:
    """``held`` plus the ``fresh`` samples it lacks, by check time (held first on ties)."""
    known = {sample.check_id for sample in held}
    added = [sample for sample in fresh if sample.check_id not in known]
    return sorted([*held, *added], key=lambda sample: sample.checked_at)


_CODEC: Final = BlockCodec(encode_block, decode_block, _merge)
