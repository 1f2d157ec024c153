"""Packed probe samples (issue 15): one ``sample_blocks`` row per connection and hour.

Upgrade creates the table and moves the raw samples of every hour that is packable
now (both roll-up resolutions past it, ended over ``RAW_KEPT_FOR`` ago) into
blocks, a connection-hour at a time in memory; the samples of the last hours stay
raw, as ``storage.sample_packing`` keeps them. Later hours are packed by the
roll-up run. Downgrade decodes every block back into raw rows (the ids of
scheduled checks come back as they were) and drops the table.

The blocks are written with ``storage.sample_codec``, whose format byte versions
them: a later format must still decode format 1.

Revision ID: 0007_packed_samples
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from connmgr.storage.event_log import as_utc
from connmgr.storage.packed_blocks import BLOCK, PACKED
from connmgr.storage.rollups import bucket_start
from connmgr.storage.sample_codec import PackedSample, decode_block, encode_block
from connmgr.storage.sample_packing import RAW_KEPT_FOR

revision = "0007_packed_samples"
down_revision = "0006"
branch_labels = None
depends_on = None

_ROLLED = ("minute", "hour")
_MOMENT = sa.DateTime(timezone=True)
_SAMPLES = sa.table(
    "samples",
    sa.column("id", sa.BigInteger),
    sa.column("check_id", sa.String),
    sa.column("connection_id", sa.String),
    sa.column("tenant", sa.String),
    sa.column("checked_at", _MOMENT),
    sa.column("outcome", sa.String),
    sa.column("latency_ms", sa.Float),
    sa.column("phases", sa.JSON),
)
_BLOCKS = sa.table(
    "sample_blocks",
    sa.column("connection_id", sa.String),
    sa.column("bucket_start", _MOMENT),
    sa.column("tenant", sa.String),
    sa.column("count", sa.Integer),
    sa.column("data", sa.LargeBinary),
)
_CHECKPOINTS = sa.table(
    "rollup_checkpoints", sa.column("resolution", sa.String), sa.column("rolled_until", _MOMENT)
)
_DELETE_CHUNK = 1000
_PAGE = 10_000


def upgrade() -> None:
    op.create_table(
        "sample_blocks",
        sa.Column("connection_id", sa.String(36), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_sample_blocks_time", "sample_blocks", ["bucket_start"])
    bind = op.get_bind()
    until = _horizon(bind)
    if until is None:
        return
    bind.execute(_CHECKPOINTS.insert().values(resolution=PACKED, rolled_until=until))
    for (connection_id, tenant, start), group in _connection_hours(bind, until):
        packed = [sample for _, sample in group]
        bind.execute(
            _BLOCKS.insert().values(
                connection_id=connection_id,
                bucket_start=start,
                tenant=tenant,
                count=len(packed),
                data=encode_block(start, packed),
            )
        )
        ids = [row_id for row_id, _ in group]
        for offset in range(0, len(ids), _DELETE_CHUNK):
            chunk = ids[offset : offset + _DELETE_CHUNK]
            bind.execute(_SAMPLES.delete().where(_SAMPLES.c.id.in_(chunk)))


def downgrade() -> None:
    bind = op.get_bind()
    b = _BLOCKS.c
    rows = bind.execute(
        sa.select(b.connection_id, b.tenant, b.bucket_start, b.data).order_by(
            b.bucket_start, b.connection_id
        )
    )
    for row in rows.all():
        start = as_utc(row.bucket_start)
        values = [
            {
                "check_id": sample.check_id,
                "connection_id": row.connection_id,
                "tenant": row.tenant,
                "checked_at": sample.checked_at,
                "outcome": sample.outcome,
                "latency_ms": sample.latency_ms,
                "phases": sample.phases,
            }
            for sample in decode_block(start, row.data)
        ]
        if values:
            bind.execute(_SAMPLES.insert(), values)
    bind.execute(_CHECKPOINTS.delete().where(_CHECKPOINTS.c.resolution == PACKED))
    op.drop_table("sample_blocks")


def _horizon(bind: sa.Connection) -> datetime | None:
    """As ``sample_packing``: the start of the first hour not packable now."""
    rows = bind.execute(sa.select(_CHECKPOINTS)).all()
    rolled = {row.resolution: as_utc(row.rolled_until) for row in rows if row.resolution in _ROLLED}
    if len(rolled) < len(_ROLLED):
        return None
    ready = min(datetime.now(UTC) - RAW_KEPT_FOR - timedelta(minutes=2), *rolled.values())
    return bucket_start(ready, BLOCK)


def _connection_hours(
    bind: sa.Connection, until: datetime
) -> Iterator[tuple[tuple[str, str, datetime], list[tuple[int, PackedSample]]]]:
    """The raw samples before ``until`` grouped by connection and hour, read in pages
    in (connection, tenant, time, id) order: a page and one group in memory at a time."""
    c = _SAMPLES.c
    order = (c.connection_id, c.tenant, c.checked_at, c.id)
    page = sa.select(_SAMPLES).where(c.checked_at < until).order_by(*order).limit(_PAGE)
    key: tuple[str, str, datetime] | None = None
    group: list[tuple[int, PackedSample]] = []
    rows = bind.execute(page).all()
    while rows:
        for row in rows:
            moment = as_utc(row.checked_at)
            row_key = (row.connection_id, row.tenant, bucket_start(moment, BLOCK))
            if key is not None and row_key != key:
                yield key, group
                group = []
            key = row_key
            group.append((row.id, _packed(row, moment)))
        last = rows[-1]
        after = sa.tuple_(*order) > (last.connection_id, last.tenant, last.checked_at, last.id)
        rows = bind.execute(page.where(after)).all()
    if key is not None:
        yield key, group


def _packed(row: Any, moment: datetime) -> PackedSample:
    return PackedSample(row.check_id, moment, row.outcome, row.latency_ms, dict(row.phases))
