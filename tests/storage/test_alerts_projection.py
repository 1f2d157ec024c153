"""The alerts projection (``storage.alerts``): folded live as the log grows, the same
when folded again from the whole log, filled by the upgrade to 0009, and read one
index range per page. Both backends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.events import AlertRaised, AlertResolved
from connmgr.storage import alerts as alerts_module
from connmgr.storage import projection_store
from connmgr.storage.alerts import rebuild_alerts
from connmgr.storage.database import create_engine, write_transaction
from connmgr.storage.reads.connection_health import list_alerts
from connmgr.storage.schema_upgrade import upgrade_schema
from connmgr.storage.tables import alerts
from support.databases import migrated_engine
from support.fixture_types import NewPostgresUrl
from support.health_events import HealthEvents
from support.legacy_events import append_events, smtp_created_v1
from support.migrations import upgrade_to
from support.query_plans import query_plan, recorded_statements
from support.samples import T0
from support.seeds import Seed

MINUTE = timedelta(minutes=1)
CHAIN_HEAD_FREE_S = 10.0
NOW = T0 + 60 * MINUTE


@pytest.fixture
def health(seed: Seed) -> HealthEvents:
    return HealthEvents(seed)


async def _rows(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as connection:
        query = select(alerts).order_by(alerts.c.raised_position)
        return [tuple(row) for row in await connection.execute(query)]


def _states(rows: list[tuple[Any, ...]]) -> list[tuple[str, int]]:
    """Each alert's id and ``state_rank`` (0 open, 1 resolved), in log order."""
    return [(row[1], row[4]) for row in rows]


async def test_the_fold_of_the_whole_log_equals_the_live_fold(
    engine: AsyncEngine, seed: Seed, health: HealthEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts_module, "REBUILD_PAGE", 2)  # raises resolved pages later
    orders = await seed.connection("orders")
    theirs = await seed.connection("theirs", tenant="globex")
    first = await health.raised(orders, T0)
    await health.changed(orders, "down", "degraded", T0 + MINUTE)
    await health.resolved(orders, first, T0, T0 + 5 * MINUTE)
    await health.resolved(orders, first, T0, T0 + 6 * MINUTE)  # twice: changes nothing
    second = await health.raised(orders, T0 + 10 * MINUTE)
    await health.resolved(orders, str(uuid.uuid4()), T0, T0 + 11 * MINUTE)  # no such raise
    await health.resolved(orders, second, T0, T0 + 12 * MINUTE, tenant="globex")
    await health.raised(theirs, T0 + 11 * MINUTE, tenant="globex")
    live = await _rows(engine)

    async with write_transaction(engine) as connection:
        raised = await rebuild_alerts(connection)

    assert raised == 3
    assert await _rows(engine) == live
    assert [(row[3], row[4]) for row in live] == [(orders, 1), (orders, 0), (theirs, 0)]
    assert AlertResolved.model_validate(live[0][6]).resolved_at == T0 + 5 * MINUTE


async def test_a_resolution_resolves_its_own_tenants_raise_once_and_nothing_else(
    engine: AsyncEngine, seed: Seed, health: HealthEvents
) -> None:
    orders = await seed.connection("orders")
    alert = await health.raised(orders, T0)
    stray = str(uuid.uuid4())
    await health.resolved(orders, stray, T0, T0 + MINUTE)  # no raise of that alert
    # The same alert id resolved under another tenant's name: not this tenant's alert.
    await health.resolved(orders, alert, T0, T0 + 2 * MINUTE, tenant="globex")
    assert [a.state for a in (await list_alerts(engine, "acme", NOW)).items] == ["open"]

    await health.resolved(orders, alert, T0, T0 + 3 * MINUTE)
    await health.resolved(orders, alert, T0, T0 + 9 * MINUTE)  # once resolved, it stays so

    (item,) = (await list_alerts(engine, "acme", NOW)).items
    assert (item.alert_id, item.state, item.resolved_at) == (alert, "resolved", T0 + 3 * MINUTE)


async def test_a_rebuild_folds_the_alerts_appended_after_its_bulk_under_the_chain_head(
    engine: AsyncEngine, seed: Seed, health: HealthEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``projection rebuild`` folds the bulk of the alerts up to the position it read the
    log to, in a transaction of its own, then the tail holding the chain head. What the
    prober appended after that position is in the table after, even a resolution the
    bulk wrote over (its alert open at that position) while it was being folded."""
    orders = await seed.connection("orders")
    old = await health.raised(orders, T0)
    resolved_in_bulk = await health.raised(orders, T0 + MINUTE)
    await health.resolved(orders, resolved_in_bulk, T0, T0 + 2 * MINUTE)
    read_log, bulk = projection_store.fold_log, projection_store.rebuild_alerts
    appended: list[str] = []

    async def read_then_resolve(connection: AsyncConnection, *args: Any) -> int:
        position = await read_log(connection, *args)
        if not appended:  # the first read, before the bulk: resolved after its position
            appended.append("resolution")
            await health.resolved(orders, old, T0, T0 + 3 * MINUTE)
        return position

    async def bulk_then_raise(connection: AsyncConnection, *, through: int) -> int:
        raised = await bulk(connection, through=through)
        await connection.commit()  # the bulk's own transaction ends before the tail
        appended.append(await health.raised(orders, T0 + 4 * MINUTE))
        return raised

    monkeypatch.setattr(projection_store, "fold_log", read_then_resolve)
    monkeypatch.setattr(projection_store, "rebuild_alerts", bulk_then_raise)
    await projection_store.rebuild(engine)

    rebuilt = await _rows(engine)
    assert _states(rebuilt) == [(old, 1), (resolved_in_bulk, 1), (appended[1], 0)]
    async with write_transaction(engine) as connection:
        await rebuild_alerts(connection)
    assert await _rows(engine) == rebuilt  # the same as one fold of the whole log


async def test_a_rebuild_lets_the_prober_append_while_it_folds_the_bulk_of_the_alerts(
    fresh_pg_url: NewPostgresUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL (SQLite has one writer): the bulk holds no chain head, so an append made
    while it is in progress does not wait for it, and is folded by the tail."""
    async with migrated_engine(await fresh_pg_url()) as engine:
        seed = Seed(engine)
        health = HealthEvents(seed)
        orders = await seed.connection("orders")
        await health.raised(orders, T0)
        bulk = projection_store.rebuild_alerts
        appended: list[str] = []

        async def bulk_with_an_append_in_progress(
            connection: AsyncConnection, *, through: int
        ) -> int:
            raised = await bulk(connection, through=through)
            append = health.raised(orders, T0 + MINUTE)  # before the bulk commits
            appended.append(await asyncio.wait_for(append, CHAIN_HEAD_FREE_S))
            return raised

        monkeypatch.setattr(projection_store, "rebuild_alerts", bulk_with_an_append_in_progress)
        await projection_store.rebuild(engine)
        rows = await _rows(engine)

    assert _states(rows)[1:] == [(appended[0], 0)]  # folded by the tail, still open


async def test_a_page_is_one_range_of_the_tenants_index_from_the_cursor(
    engine: AsyncEngine, seed: Seed, health: HealthEvents
) -> None:
    orders = await seed.connection("orders")
    for minute in range(3):
        alert = await health.raised(orders, T0 + minute * MINUTE)
        await health.resolved(orders, alert, T0, T0 + (minute + 1) * MINUTE)
    first = await list_alerts(engine, "acme", NOW, state="resolved", limit=1)
    assert first.next_cursor is not None

    with recorded_statements(engine) as executed:
        await list_alerts(engine, "acme", NOW, state="resolved", limit=1, cursor=first.next_cursor)
    ((statement, parameters),) = [pair for pair in executed if "alerts" in pair[0]]
    plan = await query_plan(engine, statement, parameters, index_if_possible=True)

    assert "ix_alerts_tenant_rank_position" in plan, plan
    if engine.dialect.name == "postgresql":
        assert "raised_position < " in plan, plan
    else:
        assert "(tenant=? AND state_rank=? AND raised_position<?)" in plan, plan


async def test_the_upgrade_to_0009_lists_the_alerts_the_log_already_holds(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    channel = str(uuid.uuid4())
    first, second = uuid.uuid4(), uuid.uuid4()
    try:
        async with write_transaction(engine) as connection:
            await connection.run_sync(upgrade_to, "0008")
        await append_events(
            engine,
            channel,
            ("ConnectionCreated", smtp_created_v1("mail")),
            ("AlertRaised", _raised(first, 0)),
            ("AlertResolved", _resolved(first, 5)),
            ("AlertRaised", _raised(second, 10)),
        )

        upgraded = await upgrade_schema(engine)
        page = await list_alerts(engine, "acme", NOW)
    finally:
        await engine.dispose()
    assert upgraded is True
    assert [(a.alert_id, a.state) for a in page.items] == [
        (str(second), "open"),
        (str(first), "resolved"),
    ]


def _raised(alert_id: uuid.UUID, minute: int) -> dict[str, Any]:
    raised = AlertRaised(
        alert_id=alert_id,
        status="down",
        reason="3 consecutive failures",
        raised_at=T0 + minute * MINUTE,
    )
    return raised.model_dump(mode="json")


def _resolved(alert_id: uuid.UUID, minute: int) -> dict[str, Any]:
    resolved = AlertResolved(
        alert_id=alert_id, resolved_at=T0 + minute * MINUTE, open_s=60.0 * minute
    )
    return resolved.model_dump(mode="json")
