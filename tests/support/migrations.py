"""Moving a test's database to one schema revision, for the tests of a migration.

``await connection.run_sync(upgrade_to, "0008")`` inside a write transaction;
``downgrade_to`` likewise.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from connmgr.storage.database import MIGRATIONS_DIR


def upgrade_to(connection: Connection, revision: str) -> None:
    command.upgrade(_config(connection), revision)


def downgrade_to(connection: Connection, revision: str) -> None:
    command.downgrade(_config(connection), revision)


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config
