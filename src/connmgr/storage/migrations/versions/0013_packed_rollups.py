"""Packed roll-ups (issue 15): ``rollup_blocks``, a row per connection and hour of
minute buckets, or per connection and day of hour buckets.

Upgrade creates the table; the next roll-up run packs the buckets of every block
their resolution has rolled past (``storage.rollup_packing``), in bounded
transactions, as it packs later ones. Downgrade decodes every block back into
``sample_rollups`` rows, forgets the packing checkpoints and drops the table, so
nothing packed is lost.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from connmgr.storage.event_log import as_utc
from connmgr.storage.rollup_blocks import PACKED_CHECKPOINTS
from connmgr.storage.rollup_codec import SHAPES, decode_rollups

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_MOMENT = sa.DateTime(timezone=True)
_BLOCKS = sa.table(
    "rollup_blocks",
    sa.column("connection_id", sa.String),
    sa.column("resolution", sa.String),
    sa.column("bucket_start", _MOMENT),
    sa.column("tenant", sa.String),
    sa.column("data", sa.LargeBinary),
)
_ROLLUPS = sa.table(
    "sample_rollups",
    *(sa.column(name, sa.String) for name in ("connection_id", "resolution", "tenant")),
    sa.column("bucket_start", _MOMENT),
    *(sa.column(name, sa.Integer) for name in ("count", "failures")),
    *(sa.column(f"latency_{band}_ms", sa.Float) for band in ("p50", "p95", "p99", "max")),
)
_CHECKPOINTS = sa.table("rollup_checkpoints", sa.column("resolution", sa.String))


def upgrade() -> None:
    op.create_table(
        "rollup_blocks",
        sa.Column("connection_id", sa.String(36), primary_key=True),
        sa.Column("resolution", sa.String(8), primary_key=True),
        sa.Column("bucket_start", _MOMENT, primary_key=True),
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_rollup_blocks_time", "rollup_blocks", ["resolution", "bucket_start"])
    op.create_index(
        "ix_rollup_blocks_tenant_time", "rollup_blocks", ["tenant", "resolution", "bucket_start"]
    )


def downgrade() -> None:
    bind = op.get_bind()
    for block in bind.execute(sa.select(_BLOCKS)).all():
        rows = [
            {
                "connection_id": block.connection_id,
                "resolution": block.resolution,
                "tenant": block.tenant,
                "bucket_start": bucket.bucket_start,
                "count": bucket.count,
                "failures": bucket.failures,
                "latency_p50_ms": bucket.latency_p50_ms,
                "latency_p95_ms": bucket.latency_p95_ms,
                "latency_p99_ms": bucket.latency_p99_ms,
                "latency_max_ms": bucket.latency_max_ms,
            }
            for bucket in decode_rollups(
                SHAPES[block.resolution], as_utc(block.bucket_start), block.data
            )
        ]
        if rows:
            bind.execute(sa.insert(_ROLLUPS), rows)
    packed = _CHECKPOINTS.c.resolution.in_(PACKED_CHECKPOINTS.values())
    bind.execute(sa.delete(_CHECKPOINTS).where(packed))
    op.drop_table("rollup_blocks")
