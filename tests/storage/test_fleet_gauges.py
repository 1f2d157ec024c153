"""The fleet-wide reads for ``/metrics`` (``storage.reads.fleet_gauges``), both backends."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.reads.fleet_gauges import (
    FleetCount,
    LatencyHistogram,
    OutcomeCount,
    checks_since,
    fleet_counts,
    newest_latency_histogram,
)
from support.databases import migrated_engine
from support.fixture_types import NewPostgresUrl
from support.query_plans import query_plan, recorded_statements
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
    build = SampleBuilder()
    a = await seed.connection("a")
    b = await seed.connection("b", tenant="globex")
    c = await seed.connection("c", tenant="globex", kind="redis")
    gone = await seed.connection("gone", deleted=True)
    await seed.connection("never-checked")
    await store(engine, [
        build.at(T0, 500.0, connection_id=a),
        build.at(T0 + MINUTE, 7.0, connection_id=a),  # the newest: 7 ms, not 500
        build.at(T0, 5.0, connection_id=b, tenant="globex"),  # on a bound: counted under it
        build.at(T0, 250.0, connection_id=c, tenant="globex", outcome="timeout"),
        build.at(T0, 1.0, connection_id=gone),
    ])  # fmt: skip

    histograms = await newest_latency_histogram(engine, BOUNDS_MS)

    assert histograms == [
        LatencyHistogram("postgres", (1, 2, 2), 2, 12.0),
        LatencyHistogram("redis", (0, 0, 0), 1, 250.0),
    ]


async def test_on_postgresql_the_newest_check_is_looked_up_once_per_connection(
    fresh_pg_url: NewPostgresUrl,
) -> None:
    # Flattened, the lookup ran once per reference: 3 + len(BOUNDS_MS) subplans.
    async with migrated_engine(await fresh_pg_url()) as engine:
        with recorded_statements(engine) as executed:
            await newest_latency_histogram(engine, BOUNDS_MS)
        ((statement, parameters),) = executed
        plan = await query_plan(engine, statement, parameters)
    assert plan.count("SubPlan") == 1, plan


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
