"""The projection keeps each connection's e-mail recipients (``notify``).

The column is added empty: the values come from the fold of the log (version-1
events are upcast, ``schemas/upcasting.py``), never from SQL over the rows.
``storage/schema_upgrade.py`` refolds the projection after this revision.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("notify", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("notify")
