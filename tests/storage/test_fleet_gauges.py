"""The fleet-wide reads for ``/metrics`` (``storage.reads.fleet_gauges``), both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import create_engine, write_transaction
from connmgr.storage.reads.fleet_gauges import (
    FleetCount,
    LatencyHistogram,
    OutcomeCount,
    checks_since,
    fleet_counts,
    newest_latency_histogram,
)
from connmgr.storage.tables import probe_state
from support.migrations import upgrade_to
from support.samples import T0, SampleBuilder, store
from support.seeds import Seed

MINUTE = timedelta(minutes=1)
NOW = T0 + 60 * MINUTE
BOUNDS_MS = (5.0, 10.0, 100.0)


async def test_counts_add_every_tenant_up_by_kind_and_status_and_skip_deleted(
    engine: AsyncEngine, seed: Seed
) -> None:
    await seed.connection("a", status="healthy")
    await seed.connection("b", tenant="globex", status="healthy")
    await seed.connection("c", tenant="globex", kind="redis", status="down")
    await seed.connection("gone", status="healthy", deleted=True)

    assert await fleet_counts(engine) == [
        FleetCount("postgres", "healthy", 2),
        FleetCount("redis", "down", 1),
    ]


async def test_the_latency_histogram_counts_each_live_connection_at_its_newest_check(
    engine: AsyncEngine, seed: Seed
) -> None:
    a = await seed.connection("a")
    b = await seed.connection("b", tenant="globex")
    c = await seed.connection("c", tenant="globex", kind="redis")
    gone = await seed.connection("gone", deleted=True)
    await seed.connection("never-checked")
    await seed.last_check(a, 7.0)
    await seed.last_check(b, 5.0, tenant="globex")  # on a bound: counted under it
    await seed.last_check(c, 250.0, tenant="globex")
    await seed.last_check(gone, 1.0)
    await store(engine, [SampleBuilder().at(T0, 500.0, connection_id=a)])  # history: not read

    histograms = await newest_latency_histogram(engine, BOUNDS_MS)

    assert histograms == [
        LatencyHistogram("postgres", (1, 2, 2), 2, 12.0),
        LatencyHistogram("redis", (0, 0, 0), 1, 250.0),
    ]


async def test_migration_0011_keeps_each_states_newest_latency_from_its_samples(
    database_url: str,
) -> None:
    build = SampleBuilder()
    engine = create_engine(database_url)
    try:
        async with write_transaction(engine) as connection:
            await connection.run_sync(upgrade_to, "0010")
        seed = Seed(engine)
        checked, unchecked = await seed.connection("checked"), await seed.connection("unchecked")
        await store(engine, [
            build.at(T0, 500.0, connection_id=checked),
            build.at(NOW, 7.0, connection_id=checked),  # the state's last_check_at
            build.at(NOW, 9.0, connection_id=unchecked),  # no state: nothing to fill
        ])  # fmt: skip
        async with write_transaction(engine) as connection:
            await connection.execute(insert(probe_state).values(_state_at_0010(checked, NOW)))
            await connection.run_sync(upgrade_to, "head")
        histograms = await newest_latency_histogram(engine, BOUNDS_MS)
    finally:
        await engine.dispose()
    assert histograms == [LatencyHistogram("postgres", (0, 1, 1), 1, 7.0)]


def _state_at_0010(connection_id: str, checked_at: datetime) -> dict[str, object]:
    return {
        "connection_id": connection_id, "tenant": "acme", "status": "healthy",
        "last_check_at": checked_at, "consecutive_failures": 0, "consecutive_successes": 1,
        "consecutive_auth_failures": 0, "recent": "S", "suspended": False,
        "updated_at": checked_at,
    }  # fmt: skip


async def test_checks_since_count_samples_of_every_tenant_by_outcome(
    engine: AsyncEngine,
) -> None:
    build = SampleBuilder()
    await store(engine, [
        build.at(NOW - 2 * MINUTE, 1.0),  # too old
        build.at(NOW - MINUTE, 1.0),  # on the edge: counted
        build.at(NOW, 1.0, tenant="globex"),
        build.at(NOW, 1.0, outcome="timeout"),
    ])  # fmt: skip

    assert await checks_since(engine, NOW - MINUTE) == [
        OutcomeCount("ok", 2),
        OutcomeCount("timeout", 1),
    ]
