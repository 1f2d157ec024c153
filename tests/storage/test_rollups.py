"""Roll-ups and retention (``storage.samples.roll_up``) on synthetic samples, both backends."""

from __future__ import annotations

import asyncio
from dataclasses import astuple
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.event_log import as_utc
from connmgr.storage.rollup_codec import SHAPES, decode_rollups
from connmgr.storage.rollups import bucket_start
from connmgr.storage.samples import Retention, RollupReport, roll_up
from connmgr.storage.tables import rollup_blocks, rollup_checkpoints, sample_rollups
from support.databases import migrated_engine
from support.fixture_types import NewPostgresUrl
from support.samples import BILLING, ORDERS, T0, SampleBuilder, store, stored_samples

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def build() -> SampleBuilder:
    return SampleBuilder()


async def rollup_rows(engine: AsyncEngine, resolution: str) -> list[tuple[Any, ...]]:
    """``(connection, tenant, start, count, failures, p50, p95, p99, max)`` by start,
    of every bucket stored: a row, or a packed block's bucket."""
    r = sample_rollups.c
    query = (
        select(r.connection_id, r.tenant, r.bucket_start, r.count, r.failures)
        .add_columns(r.latency_p50_ms, r.latency_p95_ms, r.latency_p99_ms, r.latency_max_ms)
        .where(r.resolution == resolution)
    )
    async with engine.connect() as connection:
        found = [
            (row[0], row[1], as_utc(row[2]), *row[3:]) for row in await connection.execute(query)
        ]
        blocks = select(rollup_blocks).where(rollup_blocks.c.resolution == resolution)
        for block in await connection.execute(blocks):
            start = as_utc(block.bucket_start)
            for bucket in decode_rollups(SHAPES[block.resolution], start, block.data):
                found.append((block.connection_id, block.tenant, *astuple(bucket)))
    return sorted(found, key=lambda row: (row[2], row[0]))


async def checkpoints(engine: AsyncEngine) -> dict[str, datetime]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(rollup_checkpoints))
        return {
            row.resolution: as_utc(row.rolled_until)
            for row in rows
            if row.resolution in ("minute", "hour")
        }


async def sample_times(engine: AsyncEngine) -> list[datetime]:
    """Check times of every sample stored, raw or packed."""
    return [stored.sample.checked_at for stored in await stored_samples(engine)]


async def test_a_minute_bucket_has_counts_failures_and_exact_percentiles(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    # 100 samples in the minute at T0 with latencies 100..1 ms, every tenth a failure.
    batch = [
        build.at(T0 + i * 500 * SECOND / 1000, 100.0 - i, outcome="ok" if i % 10 else "timeout")
        for i in range(100)
    ]
    await store(engine, batch)

    report = await roll_up(engine, T0 + 3 * MINUTE)

    assert report == RollupReport(ran=True, minute_buckets=1)
    assert await rollup_rows(engine, "minute") == [
        (ORDERS, "acme", T0, 100, 10, 50.0, 95.0, 99.0, 100.0)
    ]


async def test_hour_buckets_are_computed_from_the_raw_samples(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    # 20 samples a minute for 3 minutes: latencies 1..60 in all, so the hour's
    # percentiles are of all 60, not of the minutes' percentiles.
    await store(engine, build.spread(T0, [float(v) for v in range(1, 61)], 3 * SECOND))
    await store(engine, [build.at(T0 + 30 * MINUTE, 500.0, outcome="unreachable")])

    report = await roll_up(engine, T0 + HOUR + 5 * MINUTE)

    # The minutes of T0's hour are rolled past, so they are packed into its block.
    assert report == RollupReport(ran=True, minute_buckets=4, hour_buckets=1, rollups_packed=4)
    assert [row[2:5] for row in await rollup_rows(engine, "minute")] == [
        (T0, 20, 0),
        (T0 + MINUTE, 20, 0),
        (T0 + 2 * MINUTE, 20, 0),
        (T0 + 30 * MINUTE, 1, 1),
    ]
    assert await rollup_rows(engine, "hour") == [
        (ORDERS, "acme", T0, 61, 1, 31.0, 58.0, 500.0, 500.0)
    ]


async def test_each_connection_gets_its_own_bucket_with_its_tenant(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(
        engine, [build.at(T0, 5.0), build.at(T0, 7.0, connection_id=BILLING, tenant="globex")]
    )

    await roll_up(engine, T0 + 3 * MINUTE)

    assert await rollup_rows(engine, "minute") == [
        (ORDERS, "acme", T0, 1, 0, 5.0, 5.0, 5.0, 5.0),
        (BILLING, "globex", T0, 1, 0, 7.0, 7.0, 7.0, 7.0),
    ]


async def test_the_open_bucket_and_the_grace_period_are_not_rolled(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, [build.at(T0 + 10 * SECOND), build.at(T0 + MINUTE + 10 * SECOND)])

    # T0's minute ended at T0+1m, but the 2-minute grace has not passed yet.
    assert await roll_up(engine, T0 + 2 * MINUTE + 59 * SECOND) == RollupReport(ran=True)
    assert await rollup_rows(engine, "minute") == []

    assert (await roll_up(engine, T0 + 3 * MINUTE)).minute_buckets == 1
    assert [row[2] for row in await rollup_rows(engine, "minute")] == [T0]
    assert await checkpoints(engine) == {"minute": T0 + MINUTE}
    assert await rollup_rows(engine, "hour") == []

    await roll_up(engine, T0 + HOUR + 2 * MINUTE)
    assert await checkpoints(engine) == {"minute": T0 + HOUR, "hour": T0 + HOUR}
    assert [row[2:4] for row in await rollup_rows(engine, "hour")] == [(T0, 2)]


async def test_a_late_sample_for_a_rolled_bucket_stays_raw_but_is_not_rolled(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, [build.at(T0, 10.0)])
    await roll_up(engine, T0 + HOUR + 3 * MINUTE)
    before = await rollup_rows(engine, "minute"), await rollup_rows(engine, "hour")

    await store(engine, [build.at(T0 + 5 * SECOND, 900.0, outcome="timeout")])
    await roll_up(engine, T0 + HOUR + 4 * MINUTE)

    assert (await rollup_rows(engine, "minute"), await rollup_rows(engine, "hour")) == before
    assert len(await sample_times(engine)) == 2


async def test_retention_removes_old_raw_samples_and_old_rollups_and_keeps_recent_ones(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    now = T0 + 100 * DAY
    moments = [now - 91 * DAY, now - 8 * DAY, now - 6 * DAY, now - 2 * HOUR]
    await store(engine, [build.at(moment) for moment in moments])

    report = await roll_up(engine, now)

    assert (report.samples_deleted, report.rollups_deleted) == (2, 2)
    assert await sample_times(engine) == moments[2:]
    for resolution in ("minute", "hour"):
        assert [row[2] for row in await rollup_rows(engine, resolution)] == moments[1:]


async def test_retention_is_configurable(engine: AsyncEngine, build: SampleBuilder) -> None:
    now = T0 + 10 * DAY
    await store(engine, [build.at(now - 3 * DAY), build.at(now - 2 * HOUR)])

    report = await roll_up(engine, now, retention=Retention(raw=DAY, minute=DAY, hour=2 * DAY))

    assert (report.samples_deleted, report.rollups_deleted) == (1, 2)
    assert await sample_times(engine) == [now - 2 * HOUR]


async def test_minute_rollups_go_before_hour_rollups(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    now = T0 + 100 * DAY
    moments = [now - 91 * DAY, now - 9 * DAY, now - 2 * HOUR]
    await store(engine, [build.at(moment) for moment in moments])

    report = await roll_up(engine, now)  # defaults: minutes 8 days, hours 90

    assert report.rollups_deleted == 3  # minute and hour of the first, minute of the second
    assert [row[2] for row in await rollup_rows(engine, "minute")] == moments[2:]
    assert [row[2] for row in await rollup_rows(engine, "hour")] == [
        bucket_start(moment, HOUR) for moment in moments[1:]
    ]


async def test_raw_samples_are_kept_until_every_resolution_has_rolled_them(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0, [1.0] * 20, MINUTE))

    # Minutes are rolled, but T0's hour is still open: nothing may be deleted yet.
    report = await roll_up(engine, T0 + 30 * MINUTE, retention=Retention(raw=timedelta(0)))

    assert (report.minute_buckets, report.samples_deleted) == (20, 0)
    assert len(await sample_times(engine)) == 20

    later = await roll_up(engine, T0 + HOUR + 3 * MINUTE, retention=Retention(raw=timedelta(0)))

    assert (later.hour_buckets, later.samples_deleted) == (1, 20)


async def test_a_backlog_larger_than_a_batch_is_processed_completely(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    now = T0 + 20 * DAY
    old = build.spread(now - 10 * DAY, [2.0] * 30, 7 * SECOND)
    recent = build.spread(T0 + 19 * DAY, [float(v) for v in range(1, 61)], 5 * SECOND)
    await store(engine, old + recent)

    keep_rollups = Retention(minute=90 * DAY)  # only the raw samples age out here
    report = await roll_up(engine, now, retention=keep_rollups, batch=7)

    assert report.samples_deleted == 30
    assert report.rollups_deleted == 0
    assert report.minute_buckets == 4 + 5  # 30 samples over 3.5 min; 60 over 5 min
    assert sum(row[3] for row in await rollup_rows(engine, "minute")) == 90
    assert [row[3] for row in await rollup_rows(engine, "hour")] == [30, 60]
    assert len(await sample_times(engine)) == 60


async def test_a_bucket_holding_more_samples_than_a_batch_is_rolled_whole(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0, [float(v) for v in range(1, 21)], SECOND))

    await roll_up(engine, T0 + 3 * MINUTE, batch=3)

    assert await rollup_rows(engine, "minute") == [
        (ORDERS, "acme", T0, 20, 0, 10.0, 19.0, 20.0, 20.0)
    ]


async def test_old_rollups_are_deleted_in_batches(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0, [1.0] * 25, MINUTE))
    await roll_up(engine, T0 + DAY)

    report = await roll_up(engine, T0 + 200 * DAY, batch=4)

    assert report.rollups_deleted == 25 + 1
    assert await rollup_rows(engine, "minute") == []


async def test_running_twice_changes_nothing(engine: AsyncEngine, build: SampleBuilder) -> None:
    now = T0 + 9 * DAY
    await store(engine, build.spread(T0, [float(v) for v in range(40)], 17 * MINUTE))
    first = await roll_up(engine, now, batch=5)
    state = await rollup_rows(engine, "minute"), await rollup_rows(engine, "hour")

    second = await roll_up(engine, now, batch=5)

    assert first.minute_buckets > 0
    assert second == RollupReport(ran=True)
    assert (await rollup_rows(engine, "minute"), await rollup_rows(engine, "hour")) == state


async def test_redoing_spans_after_a_lost_checkpoint_rewrites_the_same_rows(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0, [float(v) for v in range(30)], 50 * SECOND))
    now = T0 + 2 * HOUR
    await roll_up(engine, now)
    state = await rollup_rows(engine, "minute"), await rollup_rows(engine, "hour")

    async with engine.begin() as connection:  # as if the last spans never committed
        await connection.execute(update(rollup_checkpoints).values(rolled_until=T0))
    await roll_up(engine, now)

    assert (await rollup_rows(engine, "minute"), await rollup_rows(engine, "hour")) == state


async def test_concurrent_runs_roll_each_bucket_once(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0, [1.0] * 40, 45 * SECOND))

    reports = await asyncio.gather(*(roll_up(engine, T0 + HOUR, batch=3) for _ in range(3)))

    assert sum(report.minute_buckets for report in reports) == 30
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(sample_rollups)) == 30


async def test_a_run_finding_another_replica_at_work_returns_an_empty_report(
    fresh_pg_url: NewPostgresUrl, build: SampleBuilder
) -> None:
    """PostgreSQL only: SQLite has one writer, so no advisory lock to find taken."""
    async with migrated_engine(await fresh_pg_url()) as engine:
        await _another_replica_at_work(engine, build)


async def _another_replica_at_work(engine: AsyncEngine, build: SampleBuilder) -> None:
    await store(engine, [build.at(T0)])

    async with engine.connect() as holder, holder.begin():
        lock = text("SELECT pg_advisory_xact_lock(:key)")
        await holder.execute(lock, {"key": 0x636F6E6E726F6C6C})
        assert await roll_up(engine, T0 + DAY) == RollupReport(ran=False)

    assert await rollup_rows(engine, "minute") == []
    assert (await roll_up(engine, T0 + DAY)).ran
