"""Reads by id (``storage.reads.connections_by_id``), run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import autocommit_reads, write_transaction
from connmgr.storage.reads.connections_by_id import get_connections
from connmgr.storage.reads.views import ConnectionView
from connmgr.storage.tables import connections
from support.query_plans import query_plan, recorded_statements
from support.seeds import MARKERS, Seed


async def get_connection(engine: AsyncEngine, tenant: str, cid: str) -> ConnectionView | None:
    return (await get_connections(engine, tenant, [cid])).get(cid)


async def test_a_connection_view_has_secret_names_but_no_secret_values(
    engine: AsyncEngine, seed: Seed
) -> None:
    connection_id = await seed.connection(secret_fields=["token", "api_key"])

    view = await get_connection(engine, "acme", connection_id)

    assert view is not None
    assert (view.secret_fields, view.secrets_version) == (["api_key", "token"], 1)
    assert view.created_at.utcoffset() is not None
    dumped = view.model_dump_json()
    assert not any(marker in dumped for marker in MARKERS)


async def test_a_connection_without_secrets_has_no_secret_fields(
    engine: AsyncEngine, seed: Seed
) -> None:
    view = await get_connection(engine, "acme", await seed.connection(secret_fields=None))

    assert view is not None
    assert (view.secret_fields, view.secrets_version) == ([], None)


async def test_get_returns_none_for_another_tenant_a_tombstone_or_nothing(
    engine: AsyncEngine, seed: Seed
) -> None:
    theirs = await seed.connection(tenant="globex")
    deleted = await seed.connection(deleted=True)

    for connection_id in (theirs, deleted, "00000000-0000-0000-0000-000000000000"):
        assert await get_connection(engine, "acme", connection_id) is None
    assert await get_connection(engine, "globex", theirs) is not None


@pytest.mark.parametrize("autocommit", [False, True], ids=["engine", "autocommit"])
async def test_get_many_returns_the_tenants_live_connections_among_the_ids(
    engine: AsyncEngine, seed: Seed, autocommit: bool
) -> None:
    reads = autocommit_reads(engine) if autocommit else engine
    ours = [await seed.connection(f"db-{index}") for index in range(3)]
    theirs = await seed.connection(tenant="globex")
    deleted = await seed.connection(deleted=True)
    asked = [*ours, theirs, deleted, str(uuid.uuid4()), ours[0]]

    found = await get_connections(reads, "acme", asked)

    assert sorted(found) == sorted(ours)
    assert all(view.id == key and view.tenant == "acme" for key, view in found.items())
    assert await get_connections(reads, "acme", []) == {}


# What each backend's plan must show besides not walking the tenant index: SQLite
# searches the primary key's index by id; PostgreSQL may scan a table this small.
REQUIRED_IN_PLAN = {
    "postgresql": (),
    "sqlite": ("SEARCH connections USING INDEX sqlite_autoindex_connections_1 (id=?)",),
}


async def test_reads_by_id_never_walk_the_tenant_index_even_without_statistics(
    engine: AsyncEngine, seed: Seed
) -> None:
    ids = [await seed.connection(f"db-{index}") for index in range(20)]
    with recorded_statements(engine) as executed:
        await get_connections(engine, "acme", ids)
    (statement, parameters), *_ = [e for e in executed if e[0].lstrip().startswith("SELECT")]

    text_plan = await query_plan(engine, statement, parameters)
    # That index would be walked over the tenant's whole range for every id asked.
    assert all(step in text_plan for step in REQUIRED_IN_PLAN[engine.dialect.name]), text_plan
    assert "ix_connections_tenant_name" not in text_plan, text_plan


class Statements:
    """The SELECTs an engine runs while recording."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.selects: list[str] = []

    def __enter__(self) -> Statements:
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, *args: Any) -> None:
        if args[2].lstrip().startswith("SELECT"):
            self.selects.append(args[2])

    def reads_rows(self) -> bool:
        """Whether a full row was read (the config column is decoded only then)."""
        return any("config" in statement for statement in self.selects)


async def _known(engine: AsyncEngine, tenant: str, *ids: str) -> dict[str, ConnectionView]:
    return await get_connections(engine, tenant, list(ids))


async def test_a_known_view_at_the_live_version_is_reused_without_reading_its_row(
    engine: AsyncEngine, seed: Seed
) -> None:
    held = await seed.connection("held")
    known = await _known(engine, "acme", held)

    with Statements(engine) as statements:
        found = await get_connections(engine, "acme", [held], known)

    assert found[held] is known[held]
    assert len(statements.selects) == 1
    assert not statements.reads_rows()


async def test_a_known_view_of_an_older_version_is_read_again(
    engine: AsyncEngine, seed: Seed
) -> None:
    changed, fresh = await seed.connection("changed"), await seed.connection("fresh")
    known = await _known(engine, "acme", changed)
    async with write_transaction(engine) as connection:
        moved = update(connections).where(connections.c.id == changed)
        await connection.execute(moved.values(version=2, description="now v2"))

    with Statements(engine) as statements:
        found = await get_connections(engine, "acme", [changed, fresh], known)

    assert (found[changed].version, found[changed].description) == (2, "now v2")
    assert found[fresh].id == fresh
    assert statements.reads_rows()


async def test_a_known_view_is_not_served_once_deleted_or_to_another_tenant(
    engine: AsyncEngine, seed: Seed
) -> None:
    gone, theirs = await seed.connection("gone"), await seed.connection(tenant="globex")
    known = {**await _known(engine, "acme", gone), **await _known(engine, "globex", theirs)}
    async with write_transaction(engine) as connection:
        await connection.execute(
            update(connections).where(connections.c.id == gone).values(deleted=True)
        )

    assert await get_connections(engine, "acme", [gone, theirs], known) == {}
