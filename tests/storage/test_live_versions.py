"""The version reads on the driver's own connections (``storage.reads.live_versions``),
PostgreSQL only: tenant scope, a dropped connection, a refused statement, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api.problems import database_unavailable
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.reads.connections_by_id import live_versions
from connmgr.storage.reads.live_versions import DatabaseUnreachable, LiveVersions, driver_params
from support.databases import drop_server_connections
from support.fixture_types import NewPostgresUrl
from support.seeds import Seed
from support.services import POSTGRES_ADMIN_DSN
from support.shipped_nats import free_port
from support.waiting import wait_for


@pytest.fixture
async def pg_engine(fresh_pg_url: NewPostgresUrl) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def versions(pg_engine: AsyncEngine) -> AsyncIterator[LiveVersions]:
    versions = live_versions(pg_engine)
    assert versions is not None
    yield versions
    await versions.close()


async def backends(engine: AsyncEngine) -> list[int]:
    """The server processes connected to ``engine``'s database, but the pool's."""
    await engine.dispose()
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        rows = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            engine.url.database,
        )
    finally:
        await admin.close()
    return sorted(row["pid"] for row in rows)


async def test_the_versions_read_are_the_tenants_own_live_connections(
    pg_engine: AsyncEngine, versions: LiveVersions
) -> None:
    seed = Seed(pg_engine)
    ours = await seed.connection("ours", version=3)
    deleted = await seed.connection("deleted", deleted=True)
    theirs = await seed.connection("theirs", tenant="globex")

    assert await versions.read("acme", [ours, deleted, theirs]) == {ours: 3}
    assert await versions.read("globex", [ours, deleted]) == {}
    assert versions.sent == 2


async def test_a_dropped_connection_is_unreachable_once_and_takes_the_idle_ones_with_it(
    pg_engine: AsyncEngine, versions: LiveVersions
) -> None:
    cid = await Seed(pg_engine).connection()
    await asyncio.gather(versions.read("acme", [cid]), versions.read("acme", [cid]))
    assert len(await backends(pg_engine)) == 2  # both slots opened a connection

    await drop_server_connections(pg_engine.url.database or "")
    with pytest.raises(DatabaseUnreachable) as dropped:
        await versions.read("acme", [cid])

    assert database_unavailable(dropped.value)  # the API's 503
    assert await versions.read("acme", [cid]) == {cid: 1}  # not the other dead one


async def test_a_refused_statement_is_raised_as_it_is_and_keeps_its_connection(
    fresh_pg_url: NewPostgresUrl,
) -> None:
    empty = create_engine(await fresh_pg_url())  # no schema: the statement is refused
    versions = live_versions(empty)
    assert versions is not None
    try:
        errors = [await _refusal(versions) for _ in range(2)]
        connected = await backends(empty)
    finally:
        await versions.close()
        await empty.dispose()

    assert all(isinstance(error, asyncpg.UndefinedTableError) for error in errors)
    assert not any(database_unavailable(error) for error in errors)  # a 500, not a 503
    assert len(connected) == 1


async def _refusal(versions: LiveVersions) -> BaseException:
    try:
        await versions.read("acme", ["00000000-0000-0000-0000-000000000000"])
    except asyncpg.PostgresError as error:
        return error
    raise AssertionError("the statement on a database without tables went through")


async def test_a_connection_older_than_the_recycle_age_is_replaced(
    pg_engine: AsyncEngine,
) -> None:
    cid = await Seed(pg_engine).connection()
    versions = live_versions(pg_engine, recycle_s=0)  # every connection is too old at once
    assert versions is not None
    try:
        await versions.read("acme", [cid])
        first = await backends(pg_engine)
        assert await versions.read("acme", [cid]) == {cid: 1}

        async def replaced() -> bool:  # the old one closed, a new one opened
            now = await backends(pg_engine)
            return len(now) == 1 and now != first

        await wait_for(replaced, message="the old connection was kept")
    finally:
        await versions.close()
    assert len(first) == 1


async def test_close_leaves_no_connection_open(
    pg_engine: AsyncEngine, versions: LiveVersions
) -> None:
    await versions.read("acme", [await Seed(pg_engine).connection()])
    assert len(await backends(pg_engine)) == 1

    await versions.close()

    async def closed() -> bool:
        return not await backends(pg_engine)

    await wait_for(closed, message="the driver's connection stayed open")


def test_the_engines_connect_parameters_reach_the_driver_in_its_own_names() -> None:
    given = {
        "host": "db",
        "ssl": "require",
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": None,
    }

    assert driver_params(given) == {"host": "db", "ssl": "require", "statement_cache_size": 0}


async def test_there_are_no_driver_reads_on_sqlite(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        assert live_versions(engine) is None
    finally:
        await engine.dispose()


async def test_a_read_that_finds_every_connection_in_use_is_not_queued(
    pg_engine: AsyncEngine,
) -> None:
    cid = await Seed(pg_engine).connection()
    versions = live_versions(pg_engine, size=1)
    assert versions is not None
    try:
        first = asyncio.create_task(versions.read("acme", [cid]))
        await asyncio.sleep(0)  # it holds the one connection, opening it
        busy = await versions.read_if_free("acme", [cid])
        await first
        free = await versions.read_if_free("acme", [cid])
    finally:
        await versions.close()

    assert busy is None  # the caller reads through its pool instead
    assert free == {cid: 1}
    assert versions.sent == 2


async def test_a_database_that_refuses_the_connection_is_unreachable() -> None:
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/absent")
    versions = live_versions(engine)
    assert versions is not None
    try:
        with pytest.raises(DatabaseUnreachable) as refused:
            await versions.read("acme", ["00000000-0000-0000-0000-000000000000"])
    finally:
        await engine.dispose()

    assert database_unavailable(refused.value)  # the API's 503
    assert "postgres@" not in str(refused.value)  # the URL's user stays out of the message
