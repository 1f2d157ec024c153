"""Packing minute roll-ups into hourly blocks, and expiring blocks.

A minute roll-up row costs ~250 bytes with its indexes, and at a check a minute
there is one per check: twelve times what the check's packed sample costs. So once
the minute resolution has rolled past an hour, ``pack_minute_rollups`` (run by
``samples.roll_up``, under its lock) moves the minute buckets of each connection's
hour into one ``rollup_blocks`` row (``storage.rollup_blocks``). Buckets are never
re-opened (``storage.rollups``): a bucket behind the minute checkpoint is final, so
a block, once written, only changes by retention.

Contracts:

- **one transaction per span**: the blocks of at most ``batch`` minute rows (whole
  connection-hours; one connection-hour may exceed it) are written, merged into a
  block already held for their (connection, hour, tenant), and their rows deleted,
  in one transaction: a crash loses nothing and packs nothing twice; a second run
  finds no row to pack. The spans of an hour go by connection id, each searching
  the primary key from the last one's connection;
- **the ``m_packed`` checkpoint** moves before any block of an hour is written,
  so blocks exist only for hours before it;
- **retention** goes by whole blocks: a block is deleted once its hour is entirely
  older than the minute cutoff, so a bucket may outlive the cutoff by under an hour.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import as_utc
from connmgr.storage.hour_blocks import (
    BLOCK,
    BlockCodec,
    PackedSpan,
    advance_checkpoint,
    delete_whole_hours,
    pack_in_spans,
    whole_connection_hours,
    write_blocks,
)
from connmgr.storage.rollup_blocks import MINUTES_PACKED
from connmgr.storage.rollup_codec import PackedRollup, decode_rollups, encode_rollups
from connmgr.storage.rollups import bucket_start, read_checkpoints
from connmgr.storage.tables import rollup_blocks, sample_rollups

__all__ = ["delete_rollup_blocks", "pack_minute_rollups"]

_MINUTE = sample_rollups.c.resolution == "minute"


async def pack_minute_rollups(engine: AsyncEngine, batch: int) -> int:
    """Pack the minute buckets of every hour the minute resolution has rolled past
    (module contract); return the buckets packed."""
    async with write_transaction(engine) as connection:
        rolled = (await read_checkpoints(connection)).get("minute")
        if rolled is None:
            return 0
        until = bucket_start(rolled, BLOCK)
        await advance_checkpoint(connection, MINUTES_PACKED, until)

    def next_span(
        connection: AsyncConnection, previous: PackedSpan | None
    ) -> Awaitable[PackedSpan | None]:
        return _pack_span(connection, until, batch, previous)

    return await pack_in_spans(engine, next_span)


async def delete_rollup_blocks(engine: AsyncEngine, older_than: datetime, batch: int) -> int:
    """Delete blocks whose whole hour lies before ``older_than``; return their buckets."""
    return await delete_whole_hours(engine, rollup_blocks, older_than, batch)


async def _pack_span(
    connection: AsyncConnection, until: datetime, batch: int, previous: PackedSpan | None
) -> PackedSpan | None:
    """Pack the next whole connection-hours of the oldest hour before ``until`` that
    holds minute rows: after the ``previous`` span's last connection, if it packed
    the same hour."""
    r = sample_rollups.c
    oldest = await connection.scalar(
        select(func.min(r.bucket_start)).where(_MINUTE, r.bucket_start < until)
    )
    if oldest is None:
        return None
    start = bucket_start(oldest, BLOCK)
    in_hour = (_MINUTE, r.bucket_start >= start, r.bucket_start < start + BLOCK)
    after = previous.last if previous is not None and previous.hour == start else None
    rows = await whole_connection_hours(connection, sample_rollups, in_hour, batch, after)
    groups: dict[tuple[str, str], list[PackedRollup]] = {}
    for row in rows:
        groups.setdefault((row.connection_id, row.tenant), []).append(_packed_of(row))
    await write_blocks(connection, rollup_blocks, _CODEC, start, groups)
    ids = sorted({connection_id for connection_id, _ in groups})
    await connection.execute(delete(sample_rollups).where(*in_hour, r.connection_id.in_(ids)))
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


_CODEC: Final = BlockCodec(encode_rollups, decode_rollups, _merge)
