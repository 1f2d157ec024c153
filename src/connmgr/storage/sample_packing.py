"""Packing raw probe samples into hourly blocks, and expiring blocks.

The ``samples`` table is the write buffer: the prober inserts there (batched, in
its flush's transaction; a ``check_id`` stored there is never stored twice), and
every statistic of the last hour and every roll-up reads it. ``pack_samples``
(run by ``samples.roll_up``, under its lock) moves the samples of each
connection's hour into one ``sample_blocks`` row (keyed by connection, hour and tenant;
``storage.packed_blocks``) once

- both roll-up resolutions have rolled past that hour, and
- the hour ended at least ``RAW_KEPT_FOR`` + grace ago, so the raw-only
  statistics window (``reads.sample_stats``) and the roll-up tail read raw rows.

Contracts:

- **one transaction per span**: the packed rows of at most ``batch`` raw samples
  (whole connection-hours; one connection-hour may exceed it) are written, merged
  into an existing block when late samples join it, and their raw rows deleted, in
  one transaction: a crash loses nothing and packs nothing twice; a second run
  finds no raw rows to pack. What a span takes, and how it searches on from the
  last one, is ``storage.packing_spans``;
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

from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.block_tables import (
    BLOCK,
    PackedSpan,
    advance_checkpoint,
    delete_whole_blocks,
    pack_in_spans,
)
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import as_utc
from connmgr.storage.packed_blocks import PACKED
from connmgr.storage.packing_spans import pack_span
from connmgr.storage.rollups import BUCKET_WIDTHS, bucket_start, read_checkpoints
from connmgr.storage.tables import sample_blocks

__all__ = ["RAW_KEPT_FOR", "delete_blocks", "pack_samples"]

RAW_KEPT_FOR: Final = timedelta(hours=1)
"""Samples stay raw at least this long after their hour ends (the raw-only stats window)."""


async def pack_samples(engine: AsyncEngine, now: datetime, grace: timedelta, batch: int) -> int:
    """Pack every raw sample of a packable hour (module contract); return samples packed."""
    async with write_transaction(engine) as connection:
        until = await _horizon(connection, now, grace)
        if until is None:
            return 0
        await advance_checkpoint(connection, PACKED, until)

    def next_span(
        connection: AsyncConnection, previous: PackedSpan | None
    ) -> Awaitable[PackedSpan | None]:
        return pack_span(connection, until, batch, previous)

    return await pack_in_spans(engine, next_span)


async def delete_blocks(engine: AsyncEngine, older_than: datetime, batch: int) -> int:
    """Delete blocks whose whole hour lies before ``older_than``; return their samples."""
    return await delete_whole_blocks(engine, sample_blocks, older_than, batch)


async def _horizon(connection: AsyncConnection, now: datetime, grace: timedelta) -> datetime | None:
    checkpoints = await read_checkpoints(connection)
    if len(checkpoints) < len(BUCKET_WIDTHS):
        return None  # a resolution has rolled nothing yet
    ready = min(as_utc(now) - RAW_KEPT_FOR - grace, *checkpoints.values())
    return bucket_start(ready, BLOCK)
