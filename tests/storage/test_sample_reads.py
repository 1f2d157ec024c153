"""The samples' read side on known data, both backends: a connection's check history
(``storage.reads.sample_history``) and window statistics (``storage.reads.sample_stats``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.reads.sample_history import MAX_SAMPLES, recent_samples, rollups
from connmgr.storage.reads.sample_stats import ConnectionStats, connection_stats
from connmgr.storage.samples import roll_up
from connmgr.storage.tables import rollup_checkpoints, samples
from support.query_plans import query_plan, recorded_statements
from support.samples import BILLING, ORDERS, T0, SampleBuilder, store

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
NOW = T0 + 40 * DAY + 30 * MINUTE


@pytest.fixture
def build() -> SampleBuilder:
    return SampleBuilder()


async def forget_rolled_raw_samples(engine: AsyncEngine) -> None:
    """Delete every raw sample a roll-up holds, so figures can only come from roll-ups."""
    async with engine.begin() as connection:
        rolled = select(rollup_checkpoints.c.rolled_until).where(
            rollup_checkpoints.c.resolution == "minute"
        )
        await connection.execute(
            delete(samples).where(samples.c.checked_at < rolled.scalar_subquery())
        )


def figures(stats: ConnectionStats) -> tuple[object, ...]:
    return (
        stats.count,
        stats.failures,
        stats.success_rate,
        stats.latency_p50_ms,
        stats.latency_p95_ms,
        stats.latency_p99_ms,
    )


# --- recent samples and roll-ups -------------------------------------------------------


async def test_recent_samples_are_newest_first_and_limited(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0, [1.0, 2.0, 3.0, 4.0], MINUTE))

    newest = await recent_samples(engine, "acme", ORDERS, limit=2)

    assert [s.latency_ms for s in newest] == [4.0, 3.0]
    assert newest[0].checked_at == T0 + 3 * MINUTE
    assert (newest[0].outcome, newest[0].phases) == ("ok", {"connect": 2.0})
    since = await recent_samples(engine, "acme", ORDERS, since=T0 + 2 * MINUTE)
    assert [s.latency_ms for s in since] == [4.0, 3.0]


async def test_recent_samples_stay_within_the_tenant_and_connection(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, [build.at(T0), build.at(T0, connection_id=BILLING)])
    await store(engine, [build.at(T0, connection_id=BILLING, tenant="globex")])

    assert len(await recent_samples(engine, "acme", ORDERS)) == 1
    assert await recent_samples(engine, "globex", ORDERS) == []
    assert len(await recent_samples(engine, "globex", BILLING)) == 1


@pytest.mark.parametrize("limit", [0, MAX_SAMPLES + 1])
async def test_recent_samples_refuse_a_limit_out_of_range(engine: AsyncEngine, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await recent_samples(engine, "acme", ORDERS, limit=limit)


async def test_rollups_are_listed_by_resolution_and_range_oldest_first(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0, [float(v) for v in range(1, 8)], 20 * MINUTE))
    await roll_up(engine, T0 + 4 * HOUR)

    minutes = await rollups(
        engine, "acme", ORDERS, resolution="minute", since=T0 + 20 * MINUTE, until=T0 + HOUR
    )
    hours = await rollups(engine, "acme", ORDERS, resolution="hour", since=T0, until=T0 + DAY)

    assert [(m.bucket_start, m.count, m.latency_max_ms) for m in minutes] == [
        (T0 + 20 * MINUTE, 1, 2.0),
        (T0 + 40 * MINUTE, 1, 3.0),
    ]
    assert [(h.bucket_start, h.count, h.latency_p50_ms) for h in hours] == [
        (T0, 3, 2.0),
        (T0 + HOUR, 3, 5.0),
        (T0 + 2 * HOUR, 1, 7.0),
    ]


async def test_rollups_stay_within_the_tenant(engine: AsyncEngine, build: SampleBuilder) -> None:
    await store(engine, [build.at(T0, connection_id=BILLING, tenant="globex")])
    await roll_up(engine, T0 + DAY)

    for resolution in ("minute", "hour"):
        mine = await rollups(
            engine, "globex", BILLING, resolution=resolution, since=T0, until=T0 + DAY
        )
        theirs = await rollups(
            engine, "acme", BILLING, resolution=resolution, since=T0, until=T0 + DAY
        )
        assert (len(mine), theirs) == (1, [])


# --- stats -------------------------------------------------------------------------------


async def test_the_hour_window_is_exact_from_raw_samples(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    latencies = [float(v) for v in range(1, 21)]
    batch = build.spread(NOW - HOUR, latencies, 3 * MINUTE)
    batch[4] = build.at(batch[4].checked_at, 5.0, outcome="timeout")
    batch[9] = build.at(batch[9].checked_at, 10.0, outcome="auth_failed")
    outside = [build.at(NOW - HOUR - SECOND, 999.0), build.at(NOW, 999.0)]
    await store(engine, batch + outside)

    stats = await connection_stats(engine, "acme", ORDERS, HOUR, NOW)

    assert figures(stats) == (20, 2, 0.9, 10.0, 19.0, 20.0)
    assert stats.uptime_percent == pytest.approx(90.0)
    assert (stats.since, stats.until, stats.connection_id) == (NOW - HOUR, NOW, ORDERS)


async def test_uptime_weighs_time_and_success_rate_weighs_checks(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    # Ten good minutes, then one minute with a burst of ten failed manual checks.
    good = build.spread(NOW - 30 * MINUTE, [5.0] * 10, MINUTE)
    burst = build.spread(NOW - 5 * MINUTE, [50.0] * 10, SECOND, outcome="timeout")
    await store(engine, good + burst)

    stats = await connection_stats(engine, "acme", ORDERS, HOUR, NOW)

    assert stats.success_rate == 0.5
    assert stats.uptime_percent == pytest.approx(100 * 10 / 11)


async def test_the_day_window_reads_minute_rollups_then_the_raw_tail(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    rolled = build.spread(NOW - 20 * HOUR, [float(v) for v in range(1, 101)], 10 * MINUTE)
    await store(engine, [*rolled, build.at(NOW - 2 * DAY, 7.0)])
    await roll_up(engine, NOW)
    await forget_rolled_raw_samples(engine)
    tail = [build.at(NOW - 90 * SECOND, 1000.0, outcome="timeout"), build.at(NOW - SECOND, 1000.0)]
    late = build.at(NOW - 20 * HOUR, 1.0)  # its minute is rolled already: counts nowhere
    await store(engine, [*tail, late])

    stats = await connection_stats(engine, "acme", ORDERS, DAY, NOW)

    # Single-sample buckets lose nothing: nearest-rank over 1..100 and 1000, 1000.
    assert figures(stats) == (102, 1, 101 / 102, 51.0, 97.0, 1000.0)
    assert stats.uptime_percent == pytest.approx(100 * 101 / 102)


async def test_percentiles_over_rollups_reproduce_a_bucket_and_err_high_across_buckets(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    # Two minutes of 100 checks each: 1..100 ms, then 101..200 ms.
    await store(engine, build.spread(NOW - 3 * HOUR, [float(v) for v in range(1, 101)], SECOND / 2))
    await store(
        engine, build.spread(NOW - 2 * HOUR, [float(v) for v in range(101, 201)], SECOND / 2)
    )
    await roll_up(engine, NOW)
    await forget_rolled_raw_samples(engine)

    one_bucket = await connection_stats(engine, "acme", ORDERS, DAY, NOW - 2 * HOUR)
    two_buckets = await connection_stats(engine, "acme", ORDERS, DAY, NOW)

    assert figures(one_bucket) == (100, 0, 1.0, 50.0, 95.0, 99.0)
    # Exact over the 200 latencies: 100, 190, 198. Each check is moved up to the top
    # of its bucket's quantile band, so the estimate is never below the truth.
    assert figures(two_buckets) == (200, 0, 1.0, 100.0, 195.0, 199.0)


async def test_the_month_window_reads_hour_then_minute_rollups_then_the_raw_tail(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    days = build.spread(NOW - 25 * DAY, [float(v) for v in range(1, 21)], DAY)
    recent = build.spread(NOW - 25 * MINUTE, [100.0, 200.0], 5 * MINUTE)
    await store(engine, days + recent + [build.at(NOW - 31 * DAY, 5.0)])
    await roll_up(engine, NOW)
    await forget_rolled_raw_samples(engine)
    await store(engine, [build.at(NOW - MINUTE, 300.0, outcome="unreachable")])

    stats = await connection_stats(engine, "acme", ORDERS, 30 * DAY, NOW)

    assert figures(stats) == (23, 1, 22 / 23, 12.0, 200.0, 300.0)
    assert stats.uptime_percent == pytest.approx(100 * (20 * 3600 + 2 * 60) / (20 * 3600 + 3 * 60))


async def test_the_week_window_reads_minute_rollups(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(NOW - 6 * DAY, [4.0, 8.0], DAY))
    await roll_up(engine, NOW)
    await forget_rolled_raw_samples(engine)

    stats = await connection_stats(engine, "acme", ORDERS, 7 * DAY, NOW)

    assert figures(stats) == (2, 0, 1.0, 4.0, 8.0, 8.0)


async def test_tenant_wide_stats_cover_every_connection_of_the_tenant_only(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(NOW - 10 * MINUTE, [10.0, 20.0], MINUTE))
    await store(engine, [build.at(NOW - 5 * MINUTE, 30.0, connection_id=BILLING)])
    other = build.at(NOW - 5 * MINUTE, 999.0, outcome="timeout", tenant="globex")
    await store(engine, [other])

    stats = await connection_stats(engine, "acme", None, HOUR, NOW)

    assert figures(stats) == (3, 0, 1.0, 20.0, 30.0, 30.0)
    assert stats.connection_id is None


# Each tenant-wide read of raw samples or roll-ups searches the index that leads with the
# tenant; without one, every tenant's rows in the window are read and filtered.
TENANT_INDEXES = {
    "samples": "ix_samples_tenant_time",
    "sample_rollups": "ix_sample_rollups_tenant_time",
}


async def test_tenant_wide_stats_search_an_index_led_by_the_tenant(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(NOW - 25 * DAY, [1.0, 2.0], DAY))
    await roll_up(engine, NOW)
    await store(engine, [build.at(NOW - MINUTE, 3.0)])
    with recorded_statements(engine) as executed:
        await connection_stats(engine, "acme", None, 30 * DAY, NOW)

    searched = {table: 0 for table in TENANT_INDEXES}
    for statement, parameters in executed:
        plan = await query_plan(engine, statement, parameters, index_if_possible=True)
        for table, index in TENANT_INDEXES.items():
            if f"FROM {table} " in f"{statement} ".replace("\n", " "):
                assert index in plan, (statement, plan)
                searched[table] += 1
    assert all(searched.values()), searched  # raw samples and roll-ups both read


async def test_another_tenants_connection_has_no_figures(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(NOW - 3 * DAY, [1.0] * 50, HOUR))
    await roll_up(engine, NOW)

    for window in (HOUR, DAY, 7 * DAY, 30 * DAY):
        stats = await connection_stats(engine, "globex", ORDERS, window, NOW)
        assert figures(stats) == (0, 0, None, None, None, None)
        assert stats.uptime_percent is None
    assert (await connection_stats(engine, "acme", ORDERS, 7 * DAY, NOW)).count == 50


async def test_a_window_must_be_positive(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="window"):
        await connection_stats(engine, "acme", ORDERS, timedelta(0), NOW)
