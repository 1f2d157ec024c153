"""The connection list's ``q`` filter searches trigram indexes (PostgreSQL).

``GET /api/connections?q=`` asks for a case-insensitive substring of a connection's
name or description. No B-tree serves a substring, so each page walked the tenant's
every row: 135 ms a page for a substring of one name, 168 ms for one of none, at
100,000 connections of a tenant (``python -m bench.lists``; ``docs/scaling.md``,
"Statements that grow with history"). A GIN index of trigrams (``pg_trgm``) on
``lower(name)`` and another on ``lower(description)`` serve the filter's
``LIKE '%…%'`` on each, bitmap-ORed: 6.0 and 2.6 ms on the same data.

``pg_trgm`` ships with PostgreSQL and is a trusted extension (13+): the database's
owner may create it, as every managed PostgreSQL allows. The downgrade drops the
indexes and leaves the extension, which other schemas may use. SQLite, the embedded
development backend, keeps the scan.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_COLUMNS = ("name", "description")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in _COLUMNS:
        op.create_index(
            f"ix_connections_{column}_trigrams",
            "connections",
            [sa.text(f"lower({column}) gin_trgm_ops")],
            postgresql_using="gin",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _COLUMNS:
        op.drop_index(f"ix_connections_{column}_trigrams", table_name="connections")
