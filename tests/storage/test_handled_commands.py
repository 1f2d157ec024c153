"""Handled commands are keyed by ``(tenant, command_id)``, on SQLite and PostgreSQL alike;
migration 0005 re-keys existing rows without losing their tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.command_log import find_outcome, find_outcomes, record_outcome
from connmgr.storage.database import create_engine, write_transaction
from connmgr.storage.tables import handled_commands
from support.databases import migrated_engine
from support.fixture_types import NewPostgresUrl
from support.migrations import upgrade_to
from support.query_plans import query_plan, recorded_statements


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


# The primary key searched on both of its columns: a lookup by command id alone would
# scan every command ever handled, once per batch, and the table only grows.
PRIMARY_KEY_SEARCH = {
    "postgresql": "Index Cond: (((tenant)::text = ANY",
    "sqlite": "(tenant=? AND command_id=?)",
}


async def test_outcomes_are_looked_up_on_the_primary_key_never_scanned(
    engine: AsyncEngine,
) -> None:
    async with write_transaction(engine) as connection:
        for tenant in ("a", "b"):
            await record_outcome(connection, tenant, outcome(uuid.uuid4(), 1))
    asked = [("a", str(uuid.uuid4())), ("b", str(uuid.uuid4()))]

    with recorded_statements(engine) as executed:
        async with engine.connect() as connection:
            assert await find_outcomes(connection, asked) == {}
    ((statement, parameters),) = [e for e in executed if e[0].lstrip().startswith("SELECT")]

    plan = await query_plan(engine, statement, parameters, index_if_possible=True)
    assert PRIMARY_KEY_SEARCH[engine.dialect.name] in plan, plan
    assert "SCAN" not in plan, plan


async def test_on_postgresql_one_statement_text_serves_any_number_of_keys(
    fresh_pg_url: NewPostgresUrl,
) -> None:
    # Prepared once by asyncpg and planned once by the server (``storage.any_of``);
    # SQLite has no arrays, and there IN takes one parameter per key.
    async with migrated_engine(await fresh_pg_url()) as engine:
        with recorded_statements(engine) as executed:
            async with engine.connect() as connection:
                for count in (1, 3, 7):
                    keys = [("a", str(uuid.uuid4())) for _ in range(count)]
                    await find_outcomes(connection, keys)
    assert len(executed) == 3
    assert len({statement for statement, _ in executed}) == 1, executed


async def test_migration_0005_keeps_each_rows_tenant(database_url: str) -> None:
    engine = create_engine(database_url)
    old_id, other_id = uuid.uuid4(), uuid.uuid4()
    try:
        async with write_transaction(engine) as connection:
            await connection.run_sync(upgrade_to, "0004")
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
            await connection.run_sync(upgrade_to, "head")
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
