"""The alerts list reads a projection: one row per alert, paged by an index.

``GET /api/connections/health/alerts`` paired every raise of the tenant with its
resolution and sorted them all on every page: 503 ms a page at 10,000 alerts, and
growing with every tenant's alerts (``docs/scaling.md``, "Statements that grow with
history"). ``alerts`` holds one row per ``AlertRaised``, resolved in place by its
``AlertResolved``. The table is created empty; the refold that follows this
revision fills it from the log (``storage.schema_upgrade``).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("raised_position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("connection_id", sa.String(36), nullable=False),
        sa.Column("state_rank", sa.Integer, nullable=False),
        sa.Column("raised", sa.JSON, nullable=False),
        sa.Column("resolved", sa.JSON),
    )
    op.create_index(
        "ix_alerts_tenant_rank_position", "alerts", ["tenant", "state_rank", "raised_position"]
    )
    op.create_index(
        "ix_alerts_connection_rank_position",
        "alerts",
        ["connection_id", "state_rank", "raised_position"],
    )


def downgrade() -> None:
    op.drop_table("alerts")
