"""The prober flush's two reads by id (``storage.probe_states``): the rows asked for and
no other, and on PostgreSQL one statement text whatever a flush's number of ids."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.probe_states import lock_probe_states, statuses_of
from support.databases import migrated_engine
from support.fixture_types import NewPostgresUrl
from support.query_plans import recorded_statements
from support.seeds import Seed


async def test_the_locked_rows_are_those_asked_for_in_id_order(
    engine: AsyncEngine, seed: Seed
) -> None:
    ids = [await seed.connection(f"db-{n}") for n in range(3)]
    for cid in ids:
        await seed.last_check(cid, 5.0)

    async with write_transaction(engine) as connection:
        locked = await lock_probe_states(connection, [ids[2], ids[0], ids[2]])
        none = await lock_probe_states(connection, [])

    assert list(locked) == sorted([ids[0], ids[2]])
    assert locked[ids[0]]["last_latency_ms"] == 5.0
    assert none == {}


async def test_the_statuses_are_those_of_the_ids_asked_for_with_their_tenant(
    engine: AsyncEngine, seed: Seed
) -> None:
    ours = await seed.connection("ours", status="down")
    theirs = await seed.connection("theirs", tenant="globex", status="healthy")
    await seed.connection("not-asked", status="down")

    async with engine.connect() as connection:
        statuses = await statuses_of(connection, [ours, theirs, ours])

    assert statuses == {ours: ("acme", "down"), theirs: ("globex", "healthy")}


async def test_on_postgresql_one_statement_text_serves_any_number_of_ids(
    fresh_pg_url: NewPostgresUrl,
) -> None:
    # Prepared once by asyncpg and planned once by the server (``storage.any_of``).
    async with migrated_engine(await fresh_pg_url()) as engine:
        seed = Seed(engine)
        ids = [await seed.connection(f"db-{n}") for n in range(7)]
        with recorded_statements(engine) as executed:
            async with write_transaction(engine) as connection:
                for count in (1, 3, 7):
                    await lock_probe_states(connection, ids[:count])
                    await statuses_of(connection, ids[:count])

    texts = {statement for statement, _ in executed}
    assert len(executed) == 6
    assert len(texts) == 2, texts
