"""Tenant-wide statistics search an index: samples and roll-ups by tenant and time.

``GET /api/connections/stats`` without a connection reads a tenant's raw samples
and roll-ups over a window. No index led with the tenant, so every tenant's rows in
the window were read and filtered (``docs/scaling.md``, "Statements that grow with
history").

Revision ID: 0008
Revises: 0007_packed_samples
"""

from alembic import op

revision = "0008"
down_revision = "0007_packed_samples"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_samples_tenant_time", "samples", ["tenant", "checked_at"])
    op.create_index(
        "ix_sample_rollups_tenant_time", "sample_rollups", ["tenant", "resolution", "bucket_start"]
    )


def downgrade() -> None:
    op.drop_index("ix_sample_rollups_tenant_time", table_name="sample_rollups")
    op.drop_index("ix_samples_tenant_time", table_name="samples")
