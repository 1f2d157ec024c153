"""Packed probe samples as stored: a connection's hour in one block, and reading them back.

A ``sample_blocks`` row holds the samples of one (connection, hour, tenant), encoded
by ``storage.sample_codec``; ``storage.sample_packing`` writes them. Every read of
samples older than the raw buffer goes through here, so raw rows and blocks give
the same samples (``packed_of``, ``StoredSample``) whichever holds them:

- **the ``packed`` checkpoint** (a row of ``rollup_checkpoints``): blocks exist only
  for hours starting before it, so a read of a span starting at or after it never
  needs them (``blocks_checkpoint``);
- **a block is an hour**: a block holds samples checked in ``[start, start + BLOCK)``,
  so a range read takes the blocks starting after ``since - BLOCK`` and keeps only
  the samples inside the range (``read_blocks``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.block_tables import BLOCK, read_checkpoint
from connmgr.storage.event_log import as_utc
from connmgr.storage.sample_codec import PackedSample, decode_block
from connmgr.storage.tables import sample_blocks

__all__ = [
    "BLOCK",
    "PACKED",
    "BlockPage",
    "StoredSample",
    "blocks_checkpoint",
    "packed_of",
    "read_blocks",
]

PACKED: Final = "packed"


@dataclass(frozen=True, slots=True)
class StoredSample:
    """A sample read back from either table."""

    connection_id: str
    tenant: str
    sample: PackedSample


async def blocks_checkpoint(connection: AsyncConnection) -> datetime | None:
    """Blocks exist only for hours starting before this moment (None: no block yet)."""
    return await read_checkpoint(connection, PACKED)


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
