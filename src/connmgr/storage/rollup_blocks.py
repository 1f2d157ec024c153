"""Packed roll-ups as stored: a connection's buckets of one block in one row, and
reading them back.

A ``rollup_blocks`` row holds the buckets of one (connection, resolution, block,
tenant): minute buckets of an hour, or hour buckets of a day (``rollup_codec.SHAPES``),
encoded by ``storage.rollup_codec``; ``storage.rollup_packing`` writes them. Every
read of roll-ups takes both the ``sample_rollups`` rows and the blocks
(``read_rollup_blocks``), in one snapshot (``storage.database.snapshot``): a
connection's block is in exactly one of them, since packing moves it whole in one
transaction, so each bucket counts once.

- **the packing checkpoints** (rows of ``rollup_checkpoints``, one a resolution,
  ``PACKED_CHECKPOINTS``): blocks exist only for blocks starting before it, so a read
  of a span starting at or after it never needs them (``rollup_blocks_checkpoint``);
- **a block spans its shape**: a range read takes the blocks starting after
  ``since - span`` and keeps the buckets starting inside the range.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.block_tables import read_checkpoint
from connmgr.storage.event_log import as_utc
from connmgr.storage.rollup_codec import SHAPES, PackedRollup, decode_rollups
from connmgr.storage.rollups import Resolution
from connmgr.storage.tables import rollup_blocks

__all__ = [
    "PACKED_CHECKPOINTS",
    "StoredRollup",
    "buckets_in_range",
    "read_rollup_blocks",
    "rollup_block_rows",
    "rollup_blocks_checkpoint",
]

PACKED_CHECKPOINTS: Final[dict[Resolution, str]] = {"minute": "m_packed", "hour": "h_packed"}
"""The checkpoint of each resolution's blocks (the column holds at most 8 characters)."""


@dataclass(frozen=True, slots=True)
class StoredRollup:
    """A bucket read back from a block."""

    connection_id: str
    tenant: str
    bucket: PackedRollup


async def rollup_blocks_checkpoint(
    connection: AsyncConnection, resolution: Resolution
) -> datetime | None:
    """Blocks of ``resolution`` exist only for blocks starting before this moment."""
    return await read_checkpoint(connection, PACKED_CHECKPOINTS[resolution])


async def read_rollup_blocks(
    connection: AsyncConnection,
    resolution: Resolution,
    conditions: Iterable[ColumnElement[bool]],
    since: datetime,
    until: datetime,
) -> list[StoredRollup]:
    """The ``resolution`` buckets starting in ``[since, until)`` of the blocks matching
    ``conditions``, oldest first (by connection within a bucket)."""
    rows = await rollup_block_rows(connection, resolution, conditions, since, until)
    found = [
        StoredRollup(row.connection_id, row.tenant, bucket)
        for row in rows
        for bucket in buckets_in_range(row, since, until)
    ]
    found.sort(key=lambda stored: (stored.bucket.bucket_start, stored.connection_id))
    return found


async def rollup_block_rows(
    connection: AsyncConnection,
    resolution: Resolution,
    conditions: Iterable[ColumnElement[bool]],
    since: datetime,
    until: datetime,
) -> list[Row[Any]]:
    """The ``resolution`` blocks matching ``conditions`` that may hold buckets starting
    in ``[since, until)``, undecoded (``buckets_in_range`` decodes one)."""
    c = rollup_blocks.c
    span = SHAPES[resolution].span
    query = select(c.connection_id, c.tenant, c.resolution, c.bucket_start, c.data).where(
        *conditions,
        c.resolution == resolution,
        c.bucket_start > as_utc(since) - span,
        c.bucket_start < as_utc(until),
    )
    return list(await connection.execute(query))


def buckets_in_range(row: Row[Any], since: datetime, until: datetime) -> list[PackedRollup]:
    """The buckets of a ``rollup_block_rows`` row starting in ``[since, until)``."""
    since, until = as_utc(since), as_utc(until)
    buckets = decode_rollups(SHAPES[row.resolution], as_utc(row.bucket_start), row.data)
    return [bucket for bucket in buckets if since <= bucket.bucket_start < until]
