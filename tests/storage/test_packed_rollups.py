"""Packed roll-ups (issue 15, ``storage.rollup_packing``, ``rollup_blocks`` and
``rollup_codec``), both backends.

The same recorded samples give the same roll-ups and statistics whether the minute
and hour buckets are rows or packed blocks, and with the samples packed too;
packing runs once a resolution is past the block (the hour of minutes, the day of
hours), in bounded spans, once; a bucket rolled again after a lost checkpoint leaves
its block as it was; blocks keep to their tenant and expire whole; a window's read
is one snapshot; the codec round-trips and refuses corrupt bytes; migration 0013's
downgrade unpacks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage import block_tables, rollup_packing
from connmgr.storage.database import create_engine, snapshot, write_transaction
from connmgr.storage.event_log import as_utc
from connmgr.storage.reads.sample_history import rollups
from connmgr.storage.reads.sample_stats import connection_stats
from connmgr.storage.rollup_codec import (
    SHAPES,
    BlockShape,
    PackedRollup,
    decode_rollups,
    encode_rollups,
)
from connmgr.storage.rollup_packing import pack_rollups
from connmgr.storage.rollups import Resolution, roll_resolution
from connmgr.storage.sample_packing import pack_samples
from connmgr.storage.samples import roll_up
from connmgr.storage.tables import rollup_blocks, rollup_checkpoints, sample_rollups, samples
from connmgr.storage.varint_blocks import CorruptBlock
from support.migrations import downgrade_to, upgrade_to
from support.sample_answers import END, answers, recorded_samples, same_answers
from support.samples import BILLING, ORDERS, T0, SampleBuilder, store

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
GRACE = 2 * MINUTE
MINUTES = SHAPES["minute"]


@pytest.fixture
def build() -> SampleBuilder:
    return SampleBuilder()


async def counts(engine: AsyncEngine, resolution: Resolution = "minute") -> tuple[int, int]:
    """(rows, blocks) of ``resolution``."""
    found = []
    async with engine.connect() as connection:
        for table in (sample_rollups, rollup_blocks):
            query = select(func.count()).where(table.c.resolution == resolution)
            found.append(await connection.scalar(query) or 0)
    return found[0], found[1]


async def test_packed_rollups_give_the_same_rollups_and_statistics(
    engine: AsyncEngine,
) -> None:
    await store(engine, recorded_samples())
    await roll_resolution(engine, "minute", END + GRACE, 5000)  # roll up, pack nothing yet
    await roll_resolution(engine, "hour", T0 + DAY, 5000)  # past the samples' day
    rows = await answers(engine)

    minutes = await pack_rollups(engine, "minute", 50)
    hours = await pack_rollups(engine, "hour", 2)

    # Roll-up rows are keyed by connection id, which the system keeps unique across
    # tenants; the recorded ORDERS of two tenants share one row a bucket, split
    # between both tenants' blocks.
    assert (minutes, *await counts(engine)) == (2 * 3 * 60, 0, 3 * 3)
    assert (hours, (await counts(engine, "hour"))[0]) == (2 * 3, 0)
    same_answers(rows, await answers(engine))
    await pack_samples(engine, END + 3 * HOUR, GRACE, 1000)  # the samples too
    same_answers(rows, await answers(engine))


async def test_minutes_are_packed_once_the_minute_resolution_is_past_their_hour(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0 + 50 * MINUTE, [1.0] * 20, MINUTE))  # to T0+70m

    early = await roll_up(engine, T0 + HOUR + GRACE)  # T0's hour rolled, not the next
    later = await roll_up(engine, T0 + 2 * HOUR + GRACE)
    again = await roll_up(engine, T0 + 2 * HOUR + GRACE)

    assert (early.rollups_packed, later.rollups_packed, again.rollups_packed) == (10, 10, 0)
    assert await counts(engine) == (0, 2)
    assert await counts(engine, "hour") == (2, 0)  # the day is not over
    minutes = await rollups(
        engine, "acme", ORDERS, resolution="minute", since=T0, until=T0 + 2 * HOUR
    )
    assert [bucket.bucket_start for bucket in minutes] == [
        T0 + (50 + n) * MINUTE for n in range(20)
    ]


async def test_a_newest_limit_takes_the_rows_and_the_newest_packed_buckets(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0 + 58 * MINUTE, [1.0, 2.0, 3.0, 4.0], MINUTE))
    await roll_up(engine, T0 + HOUR + GRACE + 2 * MINUTE)  # 58, 59 packed; 60, 61 rows

    newest = await rollups(
        engine, "acme", ORDERS, resolution="minute", since=T0, until=T0 + DAY, limit=3
    )

    assert await counts(engine) == (2, 1)
    assert [(b.bucket_start, b.latency_p50_ms) for b in newest] == [
        (T0 + 59 * MINUTE, 2.0),
        (T0 + 60 * MINUTE, 3.0),
        (T0 + 61 * MINUTE, 4.0),
    ]


async def test_an_hour_is_packed_in_bounded_spans_of_whole_connection_blocks(
    engine: AsyncEngine, build: SampleBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections = [f"{n:08d}-0000-0000-0000-000000000000" for n in range(5)]
    for connection_id in connections:
        await store(engine, build.spread(T0, [2.0] * 3, 10 * MINUTE, connection_id=connection_id))
    await store(engine, build.spread(T0, [1.0] * 12, 5 * MINUTE, connection_id=BILLING))
    for resolution in ("minute", "hour"):
        await roll_resolution(engine, resolution, T0 + HOUR + GRACE, 5000)
    spans: list[list[int]] = []

    async def recorded(
        connection: AsyncConnection,
        table: Any,
        codec: Any,
        start: datetime,
        groups: Any,
        *rest: Any,
    ) -> None:
        spans.append([len(buckets) for buckets in groups.values()])
        await block_tables.write_blocks(connection, table, codec, start, groups, *rest)

    monkeypatch.setattr(rollup_packing, "write_blocks", recorded)
    packed = await pack_rollups(engine, "minute", 4)  # BILLING's 12 exceed a batch: whole

    b = rollup_blocks.c
    async with engine.connect() as connection:
        rows = await connection.execute(select(b.connection_id, b.count.label("buckets")))
        held = {row.connection_id: row.buckets for row in rows}
    assert (packed, *await counts(engine)) == (5 * 3 + 12, 0, 6)
    assert spans == [[3]] * 5 + [[12]]
    assert held == {**dict.fromkeys(connections, 3), BILLING: 12}


async def test_buckets_rolled_again_after_a_lost_checkpoint_leave_their_block_as_it_was(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    stored = build.spread(T0, [1.0, 2.0, 3.0], 20 * MINUTE)
    await store(engine, stored)
    await roll_up(engine, T0 + 2 * HOUR)
    before = await rollups(engine, "acme", ORDERS, resolution="minute", since=T0, until=END)
    c = samples.c
    async with write_transaction(engine) as connection:
        await connection.execute(
            delete(rollup_checkpoints).where(rollup_checkpoints.c.resolution == "minute")
        )  # and the raw samples no longer what was rolled: one changed, one gone
        await connection.execute(
            update(samples).where(c.check_id == stored[0].check_id).values(latency_ms=99.0)
        )
        await connection.execute(delete(samples).where(c.check_id == stored[1].check_id))

    await roll_resolution(engine, "minute", T0 + 2 * HOUR, 5000)  # two rows come back
    assert await counts(engine) == (2, 1)
    again = await pack_rollups(engine, "minute", 5000)

    assert again == 2
    assert await counts(engine) == (0, 1)
    after = await rollups(engine, "acme", ORDERS, resolution="minute", since=T0, until=END)
    assert [(b.bucket_start, b.latency_p50_ms) for b in after] == [
        (T0, 1.0),
        (T0 + 20 * MINUTE, 2.0),
        (T0 + 40 * MINUTE, 3.0),
    ]
    assert after == before


@pytest.mark.parametrize(
    ("resolution", "now", "window"),
    [("minute", T0 + 2 * HOUR, DAY), ("hour", T0 + 2 * DAY, 30 * DAY)],
)
async def test_another_tenant_sees_nothing_of_a_packed_rollup(
    engine: AsyncEngine,
    build: SampleBuilder,
    resolution: Resolution,
    now: datetime,
    window: timedelta,
) -> None:
    await store(engine, build.spread(T0, [5.0] * 30, MINUTE))
    await roll_up(engine, now)
    assert await counts(engine, resolution) == (0, 1)

    theirs = await rollups(engine, "globex", ORDERS, resolution=resolution, since=T0, until=now)
    stats = await connection_stats(engine, "globex", ORDERS, window, now)
    tenant_wide = await connection_stats(engine, "globex", None, window, now)
    own = await connection_stats(engine, "acme", ORDERS, window, now)
    mine = await rollups(engine, "acme", ORDERS, resolution=resolution, since=T0, until=now)

    assert (theirs, stats.count, stats.latency_p50_ms, tenant_wide.count) == ([], 0, None, 0)
    assert (own.count, own.latency_p99_ms, sum(b.count for b in mine)) == (30, 5.0, 30)


async def test_minute_blocks_expire_by_whole_hours(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0 + 10 * MINUTE, [1.0, 1.0], 40 * MINUTE))
    await roll_up(engine, T0 + 3 * HOUR)
    assert await counts(engine) == (0, 1)

    keep = await roll_up(engine, T0 + 8 * DAY + 30 * MINUTE)  # T0's hour not wholly old
    gone = await roll_up(engine, T0 + 8 * DAY + HOUR)

    assert (keep.rollups_deleted, gone.rollups_deleted) == (0, 2)
    assert await counts(engine) == (0, 0)


async def test_hours_are_packed_by_the_day_and_expire_by_whole_days(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    midnight = T0 + 12 * HOUR  # T0 is noon
    await store(engine, build.spread(midnight - 2 * HOUR, [1.0, 2.0, 3.0, 4.0], HOUR))

    await roll_up(engine, midnight + HOUR + GRACE)  # the first day's two hours packed
    first = await counts(engine, "hour")
    await roll_up(engine, midnight + DAY + GRACE)  # and the second day's
    later = await counts(engine, "hour")
    hours = await rollups(engine, "acme", ORDERS, resolution="hour", since=T0, until=midnight + DAY)
    keep = await roll_up(engine, midnight + 90 * DAY + 12 * HOUR)  # the second day not wholly
    gone = await roll_up(engine, midnight + 91 * DAY)

    assert (first, later) == ((1, 1), (0, 2))
    assert [(b.bucket_start, b.latency_p50_ms) for b in hours] == [
        (midnight + (n - 2) * HOUR, float(n + 1)) for n in range(4)
    ]
    assert (keep.rollups_deleted, gone.rollups_deleted) == (4 + 2, 2)  # and the 4 minutes
    assert await counts(engine, "hour") == (0, 0)


async def test_a_snapshot_reads_every_statement_as_of_its_first(engine: AsyncEngine) -> None:
    row = {"resolution": "minute", "rolled_until": T0}

    async with snapshot(engine) as reader:
        seen = await reader.scalar(select(func.count()).select_from(rollup_checkpoints))
        async with write_transaction(engine) as writer:
            await writer.execute(insert(rollup_checkpoints).values(**row))
        still = await reader.scalar(select(func.count()).select_from(rollup_checkpoints))

    async with engine.connect() as connection:
        now = await connection.scalar(select(func.count()).select_from(rollup_checkpoints))
    assert (seen, still, now) == (0, 0, 1)


@given(
    st.sampled_from(list(SHAPES.values())),
    st.lists(
        st.tuples(
            st.integers(1, 10_000),
            st.integers(0, 10**9),
            st.lists(st.integers(0, 10**7), min_size=3, max_size=3),
        ),
        max_size=24,
    ),
    st.randoms(use_true_random=False),
)
def test_the_codec_round_trips(
    shape: BlockShape, drawn: list[tuple[int, int, list[int]]], rng: Any
) -> None:
    slots = sorted(rng.sample(range(shape.slots), len(drawn)))
    originals = []
    for slot, (count, p50, steps) in zip(slots, drawn, strict=True):
        p95, p99, top = (p50 + sum(steps[: n + 1]) for n in range(3))
        latencies = (value / 1000 for value in (p50, p95, p99, top))
        originals.append(
            PackedRollup(T0 + slot * shape.width, count, rng.randint(0, count), *latencies)
        )

    assert decode_rollups(shape, T0, encode_rollups(shape, T0, originals)) == originals


@pytest.mark.parametrize(
    "moments",
    [
        [T0 + MINUTE, T0 + MINUTE],  # twice the same minute
        [T0 + 2 * MINUTE, T0 + MINUTE],  # out of order
        [T0 + HOUR],  # outside the hour
        [T0 + MINUTE + timedelta(seconds=1)],  # not a whole minute
    ],
)
def test_the_codec_refuses_buckets_that_are_not_the_blocks_slots_in_order(
    moments: list[datetime],
) -> None:
    buckets = [PackedRollup(moment, 1, 0, 1.0, 1.0, 1.0, 1.0) for moment in moments]
    with pytest.raises(ValueError, match="whole slots"):
        encode_rollups(MINUTES, T0, buckets)


def test_the_codec_refuses_a_bucket_of_no_check_or_more_failures_than_checks() -> None:
    for count, failures in ((0, 0), (2, 3)):
        bucket = PackedRollup(T0, count, failures, 1.0, 1.0, 1.0, 1.0)
        with pytest.raises(ValueError, match="at least one check"):
            encode_rollups(MINUTES, T0, [bucket])


@pytest.mark.parametrize(
    "block",
    [
        b"",
        b"\x07",  # an unknown format
        b"\x01",  # no count
        b"\x01\x01\x3c\x01\x00\x00\x00\x00\x00",  # minute 60
        b"\x01\x02" + b"\x00\x01\x00\x00\x00\x00\x00" * 2,  # the same minute twice
        b"\x01\x01\x00\x01\x00\x00\x00\x00",  # a latency missing
        b"\x01\x00\x00",  # a byte after the last bucket
        b"\x02not-deflate",
    ],
)
def test_a_corrupt_rollup_block_is_refused(block: bytes) -> None:
    with pytest.raises(CorruptBlock):
        decode_rollups(MINUTES, T0, block)


async def test_migration_0013_downgrade_unpacks_the_blocks(
    database_url: str, build: SampleBuilder
) -> None:
    later = T0 + 2 * DAY
    engine = create_engine(database_url)
    try:
        async with write_transaction(engine) as connection:
            await connection.run_sync(upgrade_to, "head")
        await store(engine, build.spread(T0 + 30 * MINUTE, [1.5, 2.5, 3.5], 15 * MINUTE))
        await roll_up(engine, later)
        packed = [await counts(engine, resolution) for resolution in ("minute", "hour")]
        before = [
            await rollups(engine, "acme", ORDERS, resolution=resolution, since=T0, until=later)
            for resolution in ("minute", "hour")
        ]
        async with write_transaction(engine) as connection:
            await connection.run_sync(downgrade_to, "0012")
        r = sample_rollups.c
        query = select(r.resolution, r.bucket_start, r.count, r.latency_p50_ms)
        async with engine.connect() as connection:
            rows = sorted((r, as_utc(a), b, c) for r, a, b, c in await connection.execute(query))
            checkpoints = {
                row.resolution for row in await connection.execute(select(rollup_checkpoints))
            }
    finally:
        await engine.dispose()
    assert packed == [(0, 2), (0, 1)]
    assert rows == sorted(
        (b.resolution, b.bucket_start, b.count, b.latency_p50_ms) for b in before[0] + before[1]
    )
    assert [b.bucket_start for b in before[0]] == [
        T0 + 30 * MINUTE,
        T0 + 45 * MINUTE,
        T0 + 60 * MINUTE,
    ]
    assert checkpoints == {"minute", "hour", "packed"}
