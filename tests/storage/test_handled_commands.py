"""Handled commands are keyed by ``(tenant, command_id)``, on SQLite and PostgreSQL alike;
migration 0005 re-keys existing rows without losing their tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.command_log import find_outcome, find_outcomes, record_outcome
from connmgr.storage.database import MIGRATIONS_DIR, create_engine, write_transaction
from connmgr.storage.tables import handled_commands


def outcome(command_id: uuid.UUID, version: int) -> CommandOutcome:
    return CommandOutcome(
        command_id=command_id,
        connection_id=uuid.uuid4(),
        outcome="accepted",
        version=version,
        events=["ConnectionCreated"],
    )


async def test_two_tenants_may_record_the_same_command_id(engine: AsyncEngine) -> None:
    command_id = uuid.uuid4()
    async with write_transaction(engine) as connection:
        await record_outcome(connection, "b", outcome(command_id, 7))
        await record_outcome(connection, "a", outcome(command_id, 1))
    async with engine.connect() as connection:
        found_a = await find_outcome(connection, "a", str(command_id))
        found_b = await find_outcome(connection, "b", str(command_id))
        found_c = await find_outcome(connection, "c", str(command_id))
        both = await find_outcomes(connection, [("a", str(command_id)), ("c", str(command_id))])
    assert (found_a and found_a.version, found_b and found_b.version, found_c) == (1, 7, None)
    assert list(both) == [("a", str(command_id))]


async def test_one_tenant_records_a_command_id_once(engine: AsyncEngine) -> None:
    command_id = uuid.uuid4()
    async with write_transaction(engine) as connection:
        await record_outcome(connection, "a", outcome(command_id, 1))
    with pytest.raises(IntegrityError):
        async with write_transaction(engine) as connection:
            await record_outcome(connection, "a", outcome(command_id, 2))


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_migration_0005_keeps_each_rows_tenant(database_url: str) -> None:
    engine = create_engine(database_url)
    old_id, other_id = uuid.uuid4(), uuid.uuid4()
    try:
        async with write_transaction(engine) as connection:
            await connection.run_sync(_upgrade, "0004")
            for tenant, command_id in (("a", old_id), ("b", other_id)):
                await connection.execute(
                    handled_commands.insert().values(
                        command_id=str(command_id),
                        tenant=tenant,
                        outcome=outcome(command_id, 3).model_dump(mode="json"),
                        handled_at=datetime.now(UTC),
                    )
                )
        async with write_transaction(engine) as connection:
            await connection.run_sync(_upgrade, "head")
            await record_outcome(connection, "b", outcome(old_id, 9))  # allowed only after 0005
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(handled_commands.c.tenant, handled_commands.c.command_id)
                )
            ).all()
            kept = await find_outcome(connection, "a", str(old_id))
    finally:
        await engine.dispose()
    assert sorted(rows) == sorted([("a", str(old_id)), ("b", str(other_id)), ("b", str(old_id))])
    assert kept is not None
    assert kept.version == 3
