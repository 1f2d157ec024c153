"""The probe state keeps the latency of the check it last counted.

``/metrics``' latency gauge looked up each live connection's newest sample: one index
search per connection, ~0.65 s of PostgreSQL a scrape at 100,000 connections
(``docs/scaling.md``, "Statements that grow with history"). The prober already writes the
connection's ``probe_state`` row with every check it counts; the row now carries that
check's latency too, and the gauge reads those rows. Existing rows are filled from
the sample of their ``last_check_at``, so the gauge does not go blank until each
connection's next check.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("probe_state", sa.Column("last_latency_ms", sa.Float(), nullable=True))
    op.execute(
        "UPDATE probe_state SET last_latency_ms = ("
        " SELECT samples.latency_ms FROM samples"
        " WHERE samples.connection_id = probe_state.connection_id"
        " AND samples.checked_at = probe_state.last_check_at"
        " ORDER BY samples.id DESC LIMIT 1)"
        " WHERE last_check_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("probe_state", "last_latency_ms")
