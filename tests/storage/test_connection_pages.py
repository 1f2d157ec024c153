"""A tenant's connections, filtered and paged (``storage.reads.connection_pages``), run
on SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.reads.connection_pages import (
    ConnectionFilter,
    decode_cursor,
    encode_cursor,
    list_connections,
)
from connmgr.storage.reads.event_pages import events_after
from connmgr.storage.reads.paging import InvalidCursorError
from connmgr.storage.tables import connections
from support.databases import migrated_engine
from support.fixture_types import NewPostgresUrl
from support.query_plans import query_plan, recorded_statements
from support.samples import ORDERS
from support.seeds import MOMENT, Seed


async def test_filters_combine_and_stay_within_the_tenant(engine: AsyncEngine, seed: Seed) -> None:
    await seed.connection("a", kind="redis", status="healthy", tags=["prod"])
    await seed.connection("b", kind="redis", status="failing", tags=["prod"])
    await seed.connection("c", kind="redis", status="healthy", tags=["prod"], tenant="globex")
    await seed.connection("d", kind="http", status="healthy", tags=["prod"], description="A redis")

    async def names(**filters: str) -> list[str]:
        page = await list_connections(engine, "acme", ConnectionFilter(**filters))
        return [view.name for view in page.items]

    assert await names(kind="redis", status="healthy", tag="prod") == ["a"]
    assert await names(q="REDIS") == ["d"]
    assert await names(tag="prod") == ["a", "b", "d"]
    assert await names(status="unknown") == []


async def test_pages_follow_the_cursor_to_the_end(engine: AsyncEngine, seed: Seed) -> None:
    ids = sorted([(f"n{i % 3}", await seed.connection(f"n{i % 3}")) for i in range(7)])

    seen, cursor = [], None
    while True:
        page = await list_connections(engine, "acme", limit=2, cursor=cursor)
        seen += [(view.name, view.id) for view in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == ids


async def test_a_full_last_page_has_no_next_cursor(engine: AsyncEngine, seed: Seed) -> None:
    await seed.connection("a")
    await seed.connection("b")

    page = await list_connections(engine, "acme", limit=2)

    assert len(page.items) == 2
    assert page.next_cursor is None


def test_a_cursor_round_trips_any_name() -> None:
    cursor = encode_cursor("ä/+?&: x", ORDERS)

    assert cursor == f"{ORDERS}:ä/+?&: x"
    assert decode_cursor(cursor) == ("ä/+?&: x", ORDERS)
    assert decode_cursor(cursor.upper()) == ("Ä/+?&: X", ORDERS)  # ids compare in lower case


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "%%%",
        ORDERS,  # no name part
        "orders:" + ORDERS,  # the other way round
        ORDERS.replace("-", "") + ":a",  # an id without its hyphens
        "{" + ORDERS + "}:a",
        f"{ORDERS}:a\x00b",  # no database compares a NUL
        f"{ORDERS}:\ud800",  # nor a lone surrogate
        f"{ORDERS}:" + "x" * 201,  # no name is that long
        " " + ORDERS + ":a",
    ],
)
def test_a_cursor_of_another_shape_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)


async def test_any_cursor_of_the_shape_is_a_position_in_the_list(
    engine: AsyncEngine, seed: Seed
) -> None:
    for name in ("apple", "banana", "cherry"):
        await seed.connection(name)

    after_b = await list_connections(engine, "acme", cursor=encode_cursor("b", ORDERS))
    after_all = await list_connections(engine, "acme", cursor=encode_cursor("z" * 200, ORDERS))

    assert [view.name for view in after_b.items] == ["banana", "cherry"]
    assert (after_all.items, after_all.next_cursor) == ([], None)


@pytest.mark.parametrize("limit", [0, -1, 201])
async def test_a_limit_out_of_range_is_refused(engine: AsyncEngine, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await list_connections(engine, "acme", limit=limit)
    with pytest.raises(ValueError, match="limit"):
        await events_after(engine, "acme", limit=limit)


@pytest.mark.parametrize(
    ("column", "index"),
    [("status", "ix_connections_tenant_status_name"), ("kind", "ix_connections_tenant_kind_name")],
)
async def test_a_status_or_kind_filter_searches_an_index_led_by_tenant_and_that_column(
    engine: AsyncEngine, seed: Seed, column: str, index: str
) -> None:
    """ "What is down" or "my SMTP servers" in a large fleet must not walk every name of
    the tenant (31 and 48 ms a page at 100,000 connections before the indexes): each
    page of the filter, the first and one after a cursor, searches its index."""
    rare = {"status": "down", "kind": "smtp"}[column]
    for number in range(3):
        await seed.connection(f"rare-{number}", **{column: rare})
    await seed.connection("common", status="healthy", kind="postgres")
    await seed.connection("other-tenant", tenant="globex", **{column: rare})
    wanted = ConnectionFilter(**{column: rare})
    with recorded_statements(engine) as executed:
        first = await list_connections(engine, "acme", wanted, limit=2)
        assert first.next_cursor is not None
        rest = await list_connections(engine, "acme", wanted, limit=2, cursor=first.next_cursor)
    assert [view.name for view in [*first.items, *rest.items]] == ["rare-0", "rare-1", "rare-2"]
    pages = [(statement, params) for statement, params in executed if "SELECT" in statement]
    assert len(pages) == 2
    for statement, parameters in pages:
        plan = await query_plan(engine, statement, parameters, index_if_possible=True)
        assert index in plan, plan


async def test_on_postgresql_a_q_search_reads_the_trigram_indexes_not_the_tenants_rows(
    fresh_pg_url: NewPostgresUrl,
) -> None:
    """A rare substring in a large fleet must not walk every name of the tenant (135-168
    ms a page at 100,000 connections before the indexes): name and description are each
    searched through their trigram index, and the page stays the tenant's."""
    async with migrated_engine(await fresh_pg_url()) as engine:
        seed = Seed(engine)
        await seed.connection("billing-db")
        await seed.connection("orders-db", description="the Billing replica")
        await seed.connection("audit-db")
        await seed.connection("billing-db", tenant="globex")
        await _seed_fleet(engine, "acme", 3000)  # enough rows that a scan has a cost
        with recorded_statements(engine) as executed:
            page = await list_connections(engine, "acme", ConnectionFilter(q="BILLING"))
        ((statement, parameters),) = [(s, p) for s, p in executed if "SELECT" in s]
        plan = await query_plan(engine, statement, parameters, index_if_possible=True)
    assert sorted(view.name for view in page.items) == ["billing-db", "orders-db"]
    assert "ix_connections_name_trigrams" in plan, plan
    assert "ix_connections_description_trigrams" in plan, plan


async def _seed_fleet(engine: AsyncEngine, tenant: str, count: int) -> None:
    """``count`` more connections of ``tenant`` in one statement, then vacuumed."""
    rows = [
        {"id": str(uuid.uuid4()), "tenant": tenant, "name": f"conn-{n:05d}", "kind": "redis",
         "config": {}, "auth": {}, "health_check": {}, "tags": [], "description": f"fleet {n}",
         "status": "healthy", "version": 1, "deleted": False, "created_at": MOMENT,
         "updated_at": MOMENT}
        for n in range(count)
    ]  # fmt: skip
    async with write_transaction(engine) as connection:
        await connection.execute(connections.insert(), rows)
    # As autovacuum would: statistics, and the GIN indexes' pending entries merged.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("VACUUM ANALYZE connections")
