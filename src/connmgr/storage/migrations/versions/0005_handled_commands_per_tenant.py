"""Handled commands keyed by ``(tenant, command_id)``: a command id is unique per tenant.

Every existing row keeps its tenant (the column was always filled). PostgreSQL
swaps the primary key in place; SQLite cannot alter a primary key, so the table
is copied into a new one and renamed.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COPY = (
    "INSERT INTO handled_commands_rekeyed (command_id, connection_id, tenant, outcome,"
    " handled_at) SELECT command_id, connection_id, tenant, outcome, handled_at"
    " FROM handled_commands"
)


def _table(name: str, key: list[str], constraint: str) -> None:
    op.create_table(
        name,
        sa.Column("command_id", sa.String(36), nullable=False),
        sa.Column("connection_id", sa.String(36)),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("outcome", sa.JSON, nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=constraint),
    )


def _rekey_sqlite(key: list[str], constraint: str) -> None:
    _table("handled_commands_rekeyed", key, constraint)
    op.execute(_COPY)
    op.drop_table("handled_commands")
    op.rename_table("handled_commands_rekeyed", "handled_commands")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _rekey_sqlite(["tenant", "command_id"], "pk_handled_commands")
        return
    op.drop_constraint("handled_commands_pkey", "handled_commands", type_="primary")
    op.create_primary_key("pk_handled_commands", "handled_commands", ["tenant", "command_id"])


def downgrade() -> None:
    """Only possible while no command id is recorded for two tenants."""
    if op.get_bind().dialect.name != "postgresql":
        _rekey_sqlite(["command_id"], "handled_commands_pkey")
        return
    op.drop_constraint("pk_handled_commands", "handled_commands", type_="primary")
    op.create_primary_key("handled_commands_pkey", "handled_commands", ["command_id"])
