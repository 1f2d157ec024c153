"""The reads across tenants for ``/metrics`` (``storage.fleet_reads``), both backends."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.fleet_reads import (
    ConnectionGauge,
    OutcomeCount,
    checks_since_all_tenants,
    connection_gauges_all_tenants,
    status_counts_all_tenants,
)
from connmgr.storage.health_queries import StatusCount
from support.samples import T0, SampleBuilder, store
from support.seeds import Seed

MINUTE = timedelta(minutes=1)
NOW = T0 + 60 * MINUTE


async def test_gauge_reads_cover_every_tenant_bounded_with_the_newest_latency(
    engine: AsyncEngine, seed: Seed
) -> None:
    build = SampleBuilder()
    a = await seed.connection("a", status="healthy")
    b = await seed.connection("b", tenant="globex", kind="redis", status="down")
    await seed.connection("gone", deleted=True)
    await store(
        engine, [build.at(T0, 5.0, connection_id=a), build.at(T0 + MINUTE, 7.0, connection_id=a)]
    )
    await store(engine, [build.at(NOW, 1.0, connection_id=b, tenant="globex", outcome="timeout")])

    gauges = await connection_gauges_all_tenants(engine, limit=10)
    counts = await status_counts_all_tenants(engine)
    checks = await checks_since_all_tenants(engine, NOW - MINUTE)

    assert gauges == [
        ConnectionGauge("acme", a, "postgres", "healthy", 7.0),
        ConnectionGauge("globex", b, "redis", "down", 1.0),
    ]
    assert len(await connection_gauges_all_tenants(engine, limit=1)) == 1
    assert sorted(counts) == [
        StatusCount("acme", "postgres", "healthy", 1),
        StatusCount("globex", "redis", "down", 1),
    ]
    assert checks == [OutcomeCount("globex", "timeout", 1)]
