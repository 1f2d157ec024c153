"""What the packed tables share: a row per (connection, block, tenant), a checkpoint
saying which blocks may exist, packing in spans, and expiry by whole blocks.

``sample_blocks`` (probe samples by the hour, ``sample_packing``) and
``rollup_blocks`` (minute roll-ups by the hour, hour roll-ups by the day, one
``resolution`` column apart, ``rollup_packing``) are keyed ``(connection_id,
bucket_start, tenant)`` with a ``count`` of what each block holds, and both are
written in spans, one transaction each, until a span finds nothing left. A
checkpoint of each kind of block (a row of ``rollup_checkpoints``) moves before any
block is written, so a read of a span starting at or after it never needs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import ColumnElement, Table, delete, func, select, tuple_
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import as_utc
from connmgr.storage.rollups import dialect_insert
from connmgr.storage.tables import rollup_checkpoints

__all__ = [
    "BLOCK",
    "BlockCodec",
    "PackedSpan",
    "advance_checkpoint",
    "delete_whole_blocks",
    "pack_in_spans",
    "read_checkpoint",
    "whole_connection_blocks",
    "write_blocks",
]

BLOCK: Final = timedelta(hours=1)
"""A sample block's time, the default block; roll-up blocks span their shape's
(``rollup_codec.SHAPES``)."""
Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class PackedSpan:
    """What one span packed: ``moved`` rows of the block at ``start``, up to
    connection ``last``."""

    moved: int
    start: datetime
    last: str


PackSpan = Callable[[AsyncConnection, PackedSpan | None], Awaitable[PackedSpan | None]]


async def pack_in_spans(engine: AsyncEngine, pack_span: PackSpan) -> int:
    """Run ``pack_span`` in a transaction of its own, each after the previous span,
    until it finds nothing to pack; return the rows moved."""
    packed = 0
    span: PackedSpan | None = None
    while True:
        async with write_transaction(engine) as connection:
            span = await pack_span(connection, span)
        if span is None:
            return packed
        packed += span.moved


async def whole_connection_blocks(
    connection: AsyncConnection,
    table: Table,
    in_block: Sequence[ColumnElement[bool]],
    batch: int,
    after: str | None,
) -> list[Row[Any]]:
    """The rows of ``table`` in one block's time (``in_block``) of the next connections
    after ``after``, by connection id and time: at most ``batch`` rows cut back to
    whole connections, or one connection's rows whole when they alone fill a batch.
    Each call searches the index led by ``connection_id`` from ``after``, so the spans
    of a block cost its rows once; rows stored behind the key send the search round
    again."""
    rows = await _page(connection, table, in_block, batch, after)
    if not rows and after is not None:
        rows = await _page(connection, table, in_block, batch, None)
    if len(rows) < batch:
        return rows
    last = rows[-1].connection_id
    whole = [row for row in rows if row.connection_id != last]
    if whole:
        return whole
    every = select(table).where(table.c.connection_id == last, *in_block)
    return list(await connection.execute(every))


async def _page(
    connection: AsyncConnection,
    table: Table,
    in_hour: Sequence[ColumnElement[bool]],
    batch: int,
    after: str | None,
) -> list[Row[Any]]:
    if connection.dialect.name == "sqlite":
        # Without statistics SQLite takes the hour for a sixteenth of the table, and
        # so would read all of it through its time index and sort it, in every span;
        # the oldest hour is rather a third of the buffer or more.
        in_hour = [func.likely(bound) for bound in in_hour]
    query = select(table).where(*in_hour)
    if after is not None:
        query = query.where(table.c.connection_id > after)
    moment = table.c.checked_at if "checked_at" in table.c else table.c.bucket_start
    query = query.order_by(table.c.connection_id, moment).limit(batch)
    return list(await connection.execute(query))


@dataclass(frozen=True, slots=True)
class BlockCodec(Generic[Item]):
    """How a packed table encodes its items, and merges fresh ones into a held block."""

    encode: Callable[[datetime, list[Item]], bytes]
    decode: Callable[[datetime, bytes], list[Item]]
    merge: Callable[[list[Item], list[Item]], list[Item]]
    """``(held, fresh)`` to the block's items, in order."""


async def write_blocks(
    connection: AsyncConnection,
    table: Table,
    codec: BlockCodec[Item],
    start: datetime,
    groups: dict[tuple[str, str], list[Item]],
    fixed: Mapping[str, str] | None = None,
) -> None:
    """Write each ``(connection, tenant)`` group's items as its block starting at
    ``start``, merged into the block already held for it, if any. ``fixed``: more key
    columns, the same for every block (``rollup_blocks``' resolution)."""
    c = table.c
    fixed = fixed or {}
    ids = sorted({connection_id for connection_id, _ in groups})
    same = [c[name] == value for name, value in fixed.items()]
    existing = await connection.execute(
        select(c.connection_id, c.tenant, c.data).where(
            c.connection_id.in_(ids), c.bucket_start == start, *same
        )
    )
    held = {(row.connection_id, row.tenant): codec.decode(start, row.data) for row in existing}
    blocks = []
    for (connection_id, tenant), fresh in groups.items():
        items = codec.merge(held.get((connection_id, tenant), []), fresh)
        blocks.append(
            {
                **fixed,
                "connection_id": connection_id,
                "bucket_start": start,
                "tenant": tenant,
                "count": len(items),
                "data": codec.encode(start, items),
            }
        )
    statement = dialect_insert(connection, table)
    changes = {name: statement.excluded[name] for name in ("count", "data")}
    key = ["connection_id", *fixed, "bucket_start", "tenant"]
    await connection.execute(
        statement.on_conflict_do_update(index_elements=key, set_=changes), blocks
    )


async def read_checkpoint(connection: AsyncConnection, name: str) -> datetime | None:
    """Blocks of ``name`` exist only for hours starting before this (None: none yet)."""
    c = rollup_checkpoints.c
    moment = await connection.scalar(select(c.rolled_until).where(c.resolution == name))
    return None if moment is None else as_utc(moment)


async def advance_checkpoint(connection: AsyncConnection, name: str, until: datetime) -> None:
    """Move checkpoint ``name`` to ``until``, never back."""
    current = await read_checkpoint(connection, name)
    if current is not None and current >= until:
        return
    statement = dialect_insert(connection, rollup_checkpoints).values(
        resolution=name, rolled_until=until
    )
    await connection.execute(
        statement.on_conflict_do_update(index_elements=["resolution"], set_={"rolled_until": until})
    )


async def delete_whole_blocks(
    engine: AsyncEngine,
    table: Table,
    older_than: datetime,
    batch: int,
    *,
    span: timedelta = BLOCK,
    fixed: Mapping[str, str] | None = None,
) -> int:
    """Delete ``table``'s blocks (of ``fixed`` key values) whose whole ``span`` lies
    before ``older_than``, ``batch`` rows a transaction; return the sum of their
    ``count``."""
    c = table.c
    key = (c.connection_id, c.bucket_start, c.tenant)
    same = [c[name] == value for name, value in (fixed or {}).items()]
    total = 0
    while True:
        async with write_transaction(engine) as connection:
            expired = c.bucket_start <= as_utc(older_than) - span
            query = select(*key, c.count.label("held")).where(expired, *same).limit(batch)
            doomed = (await connection.execute(query)).all()
            if doomed:
                keys = [(row.connection_id, row.bucket_start, row.tenant) for row in doomed]
                gone = delete(table).where(tuple_(*key).in_(keys), *same)
                await connection.execute(gone)
        total += sum(int(row.held) for row in doomed)
        if len(doomed) < batch:
            return total
