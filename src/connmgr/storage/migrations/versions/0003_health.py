"""Health monitoring: probe samples and roll-ups, per-connection probe state.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.add_column("connections", sa.Column("status_since", sa.DateTime(timezone=True)))
    op.create_index("ix_events_tenant_type_position", "events", ["tenant", "type", "position"])
    op.create_table(
        "samples",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("check_id", sa.String(80), nullable=False, unique=True),
        sa.Column("connection_id", sa.String(36), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("phases", sa.JSON, nullable=False),
    )
    op.create_index("ix_samples_connection_time", "samples", ["connection_id", "checked_at"])
    op.create_index("ix_samples_time", "samples", ["checked_at"])
    op.create_table(
        "sample_rollups",
        sa.Column("connection_id", sa.String(36), primary_key=True),
        sa.Column("resolution", sa.String(8), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("latency_p50_ms", sa.Float, nullable=False),
        sa.Column("latency_p95_ms", sa.Float, nullable=False),
        sa.Column("latency_p99_ms", sa.Float, nullable=False),
        sa.Column("latency_max_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_sample_rollups_time", "sample_rollups", ["resolution", "bucket_start"])
    op.create_table(
        "rollup_checkpoints",
        sa.Column("resolution", sa.String(8), primary_key=True),
        sa.Column("rolled_until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "probe_state",
        sa.Column("connection_id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_since", sa.DateTime(timezone=True)),
        sa.Column("last_check_at", sa.DateTime(timezone=True)),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("consecutive_successes", sa.Integer, nullable=False),
        sa.Column("consecutive_auth_failures", sa.Integer, nullable=False),
        sa.Column("recent", sa.String(32), nullable=False),
        sa.Column("open_alert_id", sa.String(36)),
        sa.Column("alert_raised_at", sa.DateTime(timezone=True)),
        sa.Column("suspended", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("probe_state", "rollup_checkpoints", "sample_rollups", "samples"):
        op.drop_table(table)
    op.drop_index("ix_events_tenant_type_position", "events")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("status_since")
