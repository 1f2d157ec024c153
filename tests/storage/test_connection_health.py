"""The health read side (``storage.reads.connection_health``) on known data, both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.reads.connection_health import (
    AlertState,
    StatusCount,
    list_alerts,
    recent_status_changes,
    status_counts,
)
from connmgr.storage.reads.paging import InvalidCursorError
from support.health_events import HealthEvents
from support.samples import T0
from support.seeds import Seed

MINUTE = timedelta(minutes=1)
NOW = T0 + 60 * MINUTE


@pytest.fixture
def health(seed: Seed) -> HealthEvents:
    return HealthEvents(seed)


async def test_status_counts_group_live_connections_of_the_tenant_by_kind_and_status(
    engine: AsyncEngine, seed: Seed
) -> None:
    orders = await seed.connection("orders", status="healthy")
    await seed.connection("billing", status="healthy")
    await seed.connection("cache", kind="redis", status="down")
    await seed.connection("gone", status="down", deleted=True)
    await seed.connection("theirs", tenant="globex", status="down")

    counts = await status_counts(engine, "acme")
    one = await status_counts(engine, "acme", orders)

    assert sorted(counts) == [
        StatusCount("acme", "postgres", "healthy", 2),
        StatusCount("acme", "redis", "down", 1),
    ]
    assert one == [StatusCount("acme", "postgres", "healthy", 1)]
    assert await status_counts(engine, "globex", orders) == []


async def test_recent_status_changes_are_newest_first_and_only_the_tenants_live_ones(
    engine: AsyncEngine, seed: Seed, health: HealthEvents
) -> None:
    orders = await seed.connection("orders")
    gone = await seed.connection("gone", deleted=True)
    theirs = await seed.connection("theirs", tenant="globex")
    await health.changed(orders, "unknown", "healthy", T0)
    await health.changed(gone, "unknown", "down", T0 + MINUTE)
    await health.changed(theirs, "unknown", "down", T0 + MINUTE, tenant="globex")
    await health.changed(orders, "healthy", "down", T0 + 2 * MINUTE)
    await health.changed(orders, "down", "healthy", T0 + 3 * MINUTE)

    changes = await recent_status_changes(engine, "acme", limit=2)

    assert [(c.previous, c.status, c.at) for c in changes] == [
        ("down", "healthy", T0 + 3 * MINUTE),
        ("healthy", "down", T0 + 2 * MINUTE),
    ]
    assert {(c.connection_id, c.connection_name) for c in changes} == {(orders, "orders")}
    assert changes[0].reason == "now healthy"
    with pytest.raises(ValueError, match="limit"):
        await recent_status_changes(engine, "acme", limit=0)


async def test_alerts_pair_raises_with_resolves_open_first_then_newest_first(
    engine: AsyncEngine, seed: Seed, health: HealthEvents
) -> None:
    orders = await seed.connection("orders")
    cache = await seed.connection("cache", kind="redis")
    first = await health.raised(orders, T0)
    await health.resolved(orders, first, T0, T0 + 5 * MINUTE)
    second = await health.raised(orders, T0 + 10 * MINUTE)
    third = await health.raised(cache, T0 + 20 * MINUTE)
    await health.resolved(cache, third, T0 + 20 * MINUTE, T0 + 21 * MINUTE)

    page = await list_alerts(engine, "acme", NOW)

    assert [(a.alert_id, a.state) for a in page.items] == [
        (second, "open"),
        (third, "resolved"),
        (first, "resolved"),
    ]
    still_open, recent, old = page.items
    assert (still_open.open_s, still_open.resolved_at) == (50 * 60.0, None)
    assert (old.open_s, old.resolved_at, old.raised_at) == (300.0, T0 + 5 * MINUTE, T0)
    assert (recent.connection_id, recent.connection_name) == (cache, "cache")
    assert (old.reason, old.outcome) == ("3 consecutive failures", "timeout")
    assert page.next_cursor is None


async def test_alerts_filter_by_state_and_connection(
    engine: AsyncEngine, seed: Seed, health: HealthEvents
) -> None:
    orders = await seed.connection("orders")
    cache = await seed.connection("cache")
    done = await health.raised(orders, T0)
    await health.resolved(orders, done, T0, T0 + MINUTE)
    open_orders = await health.raised(orders, T0 + 2 * MINUTE)
    open_cache = await health.raised(cache, T0 + 3 * MINUTE)

    async def ids(state: AlertState | None = None, connection_id: str | None = None) -> list[str]:
        page = await list_alerts(engine, "acme", NOW, state=state, connection_id=connection_id)
        return [alert.alert_id for alert in page.items]

    assert await ids(state="open") == [open_cache, open_orders]
    assert await ids(state="resolved") == [done]
    assert await ids(connection_id=orders) == [open_orders, done]
    assert await ids(state="open", connection_id=orders) == [open_orders]


async def test_alert_pages_follow_the_cursor_without_repeats_or_gaps(
    engine: AsyncEngine, seed: Seed, health: HealthEvents
) -> None:
    orders = await seed.connection("orders")
    expected_resolved = []
    for minute in range(5):
        alert = await health.raised(orders, T0 + minute * MINUTE)
        await health.resolved(orders, alert, T0 + minute * MINUTE, T0 + (minute + 1) * MINUTE)
        expected_resolved.insert(0, alert)
    open_one = await health.raised(orders, T0 + 10 * MINUTE)

    seen, cursor = [], None
    while True:
        page = await list_alerts(engine, "acme", NOW, limit=2, cursor=cursor)
        seen += [a.alert_id for a in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == [open_one, *expected_resolved]
    with pytest.raises(InvalidCursorError):
        await list_alerts(engine, "acme", NOW, cursor="bm90LWEtY3Vyc29y")


async def test_alerts_of_another_tenant_or_a_deleted_connection_are_invisible(
    engine: AsyncEngine, seed: Seed, health: HealthEvents
) -> None:
    theirs = await seed.connection("theirs", tenant="globex")
    gone = await seed.connection("gone", deleted=True)
    await health.raised(theirs, T0, tenant="globex")
    await health.raised(gone, T0)

    assert (await list_alerts(engine, "acme", NOW)).items == []
    assert (await list_alerts(engine, "acme", NOW, connection_id=theirs)).items == []
    assert len((await list_alerts(engine, "globex", NOW)).items) == 1
