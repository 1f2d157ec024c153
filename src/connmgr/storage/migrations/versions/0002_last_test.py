"""The projection keeps each connection's last test result.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("last_test", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("last_test")
