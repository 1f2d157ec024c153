"""Packed minute roll-ups as stored: a connection's hour of minute buckets in one block,
and reading them back.

A ``rollup_blocks`` row holds the minute buckets of one (connection, hour, tenant),
encoded by ``storage.rollup_codec``; ``storage.rollup_packing`` writes them. Every
read of minute roll-ups takes both the ``sample_rollups`` rows and the blocks
(``read_rollup_blocks``), in one snapshot (``storage.database.snapshot``): a
connection-hour is in exactly one of them, since packing moves it whole in one
transaction, so each bucket counts once.

- **the ``m_packed`` checkpoint** (a row of ``rollup_checkpoints``): blocks exist
  only for hours starting before it, so a read of a span starting at or after it
  never needs them (``rollup_blocks_checkpoint``);
- **a block is an hour**: a range read takes the blocks starting after
  ``since - BLOCK`` and keeps the buckets starting inside the range.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.event_log import as_utc
from connmgr.storage.hour_blocks import BLOCK, read_checkpoint
from connmgr.storage.rollup_codec import PackedRollup, decode_rollups
from connmgr.storage.tables import rollup_blocks

__all__ = [
    "MINUTES_PACKED",
    "StoredRollup",
    "buckets_in_range",
    "read_rollup_blocks",
    "rollup_block_rows",
    "rollup_blocks_checkpoint",
]

MINUTES_PACKED: Final = "m_packed"  # the column holds at most 8 characters


@dataclass(frozen=True, slots=True)
class StoredRollup:
    """A minute bucket read back from a block."""

    connection_id: str
    tenant: str
    bucket: PackedRollup


async def rollup_blocks_checkpoint(connection: AsyncConnection) -> datetime | None:
    """Blocks exist only for hours starting before this moment (None: no block yet)."""
    return await read_checkpoint(connection, MINUTES_PACKED)


async def read_rollup_blocks(
    connection: AsyncConnection,
    conditions: Iterable[ColumnElement[bool]],
    since: datetime,
    until: datetime,
) -> list[StoredRollup]:
    """The minute buckets starting in ``[since, until)`` of the blocks matching
    ``conditions``, oldest first (by connection within a minute)."""
    found = [
        StoredRollup(row.connection_id, row.tenant, bucket)
        for row in await rollup_block_rows(connection, conditions, since, until)
        for bucket in buckets_in_range(row, since, until)
    ]
    found.sort(key=lambda stored: (stored.bucket.bucket_start, stored.connection_id))
    return found


async def rollup_block_rows(
    connection: AsyncConnection,
    conditions: Iterable[ColumnElement[bool]],
    since: datetime,
    until: datetime,
) -> list[Row[Any]]:
    """The blocks matching ``conditions`` that may hold buckets starting in
    ``[since, until)``, undecoded (``buckets_in_range`` decodes one)."""
    c = rollup_blocks.c
    query = select(c.connection_id, c.tenant, c.bucket_start, c.data).where(
        *conditions, c.bucket_start > as_utc(since) - BLOCK, c.bucket_start < as_utc(until)
    )
    return list(await connection.execute(query))


def buckets_in_range(row: Row[Any], since: datetime, until: datetime) -> list[PackedRollup]:
    """The buckets of a ``rollup_block_rows`` row starting in ``[since, until)``."""
    since, until = as_utc(since), as_utc(until)
    buckets = decode_rollups(as_utc(row.bucket_start), row.data)
    return [bucket for bucket in buckets if since <= bucket.bucket_start < until]
