"""Packed minute roll-ups (issue 15, ``storage.rollup_packing``, ``rollup_blocks`` and
``rollup_codec``), both backends.

The same recorded samples give the same roll-ups and statistics whether the minute
buckets are rows or packed blocks, and with the samples packed too; packing runs
once the minute resolution is past the hour, in bounded spans, once; a bucket
rolled again after a lost checkpoint joins its block once; blocks keep to their
tenant and expire by whole hours; a window's read is one snapshot; the codec
round-trips and refuses corrupt bytes; migration 0013's downgrade unpacks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage import rollup_packing
from connmgr.storage.database import create_engine, snapshot, write_transaction
from connmgr.storage.event_log import as_utc
from connmgr.storage.reads.sample_history import rollups
from connmgr.storage.reads.sample_stats import connection_stats
from connmgr.storage.rollup_codec import PackedRollup, decode_rollups, encode_rollups
from connmgr.storage.rollup_packing import pack_minute_rollups
from connmgr.storage.rollups import roll_resolution
from connmgr.storage.sample_packing import pack_samples
from connmgr.storage.samples import roll_up
from connmgr.storage.tables import rollup_blocks, rollup_checkpoints, sample_rollups, samples
from connmgr.storage.varint_blocks import CorruptBlock
from support.migrations import downgrade_to, upgrade_to
from support.sample_answers import END, answers, recorded_samples
from support.samples import BILLING, ORDERS, T0, SampleBuilder, store

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
GRACE = 2 * MINUTE
MINUTE_ROWS = (
    select(func.count()).select_from(sample_rollups).where(sample_rollups.c.resolution == "minute")
)
BLOCKS = select(func.count()).select_from(rollup_blocks)


@pytest.fixture
def build() -> SampleBuilder:
    return SampleBuilder()


async def counts(engine: AsyncEngine) -> tuple[int, int]:
    """(minute rows, blocks)."""
    async with engine.connect() as connection:
        return (await connection.scalar(MINUTE_ROWS) or 0, await connection.scalar(BLOCKS) or 0)


def same_answers(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Equal answers; uptime (a float sum, in another order) to 12 significant digits."""
    assert after.keys() == before.keys()
    for key, value in before.items():
        if getattr(value, "uptime_percent", None) is not None:
            assert after[key].uptime_percent == pytest.approx(value.uptime_percent, rel=1e-12)
            value = value.model_copy(update={"uptime_percent": after[key].uptime_percent})
        assert after[key] == value, key


async def test_packed_minute_rollups_give_the_same_rollups_and_statistics(
    engine: AsyncEngine,
) -> None:
    await store(engine, recorded_samples())
    for resolution in ("minute", "hour"):  # roll up everything, pack nothing yet
        await roll_resolution(engine, resolution, END + GRACE, 5000)
    rows = await answers(engine)

    packed = await pack_minute_rollups(engine, 50)

    # Roll-up rows are keyed by connection id, which the system keeps unique across
    # tenants; the recorded ORDERS of two tenants share one row a minute, split
    # between both tenants' blocks.
    assert (packed, *await counts(engine)) == (2 * 3 * 60, 0, 3 * 3)
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


async def test_an_hour_is_packed_in_bounded_spans_of_whole_connection_hours(
    engine: AsyncEngine, build: SampleBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections = [f"{n:08d}-0000-0000-0000-000000000000" for n in range(5)]
    for connection_id in connections:
        await store(engine, build.spread(T0, [2.0] * 3, 10 * MINUTE, connection_id=connection_id))
    await store(engine, build.spread(T0, [1.0] * 12, 5 * MINUTE, connection_id=BILLING))
    for resolution in ("minute", "hour"):
        await roll_resolution(engine, resolution, T0 + HOUR + GRACE, 5000)
    spans: list[list[int]] = []
    write_blocks = rollup_packing.write_blocks

    async def recorded(connection: AsyncConnection, *args: Any) -> None:
        *_, groups = args
        spans.append([len(buckets) for buckets in groups.values()])
        await write_blocks(connection, *args)

    monkeypatch.setattr(rollup_packing, "write_blocks", recorded)
    packed = await pack_minute_rollups(engine, 4)  # BILLING's 12 exceed a batch: taken whole

    b = rollup_blocks.c
    async with engine.connect() as connection:
        rows = await connection.execute(select(b.connection_id, b.count))
        held = {row.connection_id: row.count for row in rows}
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
    again = await pack_minute_rollups(engine, 5000)

    assert again == 2
    assert await counts(engine) == (0, 1)
    after = await rollups(engine, "acme", ORDERS, resolution="minute", since=T0, until=END)
    assert [(b.bucket_start, b.latency_p50_ms) for b in after] == [
        (T0, 1.0),
        (T0 + 20 * MINUTE, 2.0),
        (T0 + 40 * MINUTE, 3.0),
    ]
    assert after == before


async def test_another_tenant_sees_nothing_of_a_packed_minute_rollup(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    await store(engine, build.spread(T0, [5.0] * 30, MINUTE))
    await roll_up(engine, T0 + 2 * HOUR)
    assert await counts(engine) == (0, 1)
    now = T0 + 2 * HOUR

    theirs = await rollups(engine, "globex", ORDERS, resolution="minute", since=T0, until=now)
    stats = await connection_stats(engine, "globex", ORDERS, DAY, now)
    tenant_wide = await connection_stats(engine, "globex", None, DAY, now)
    own = await connection_stats(engine, "acme", ORDERS, DAY, now)

    assert (theirs, stats.count, stats.latency_p50_ms, tenant_wide.count) == ([], 0, None, 0)
    assert (own.count, own.latency_p99_ms) == (30, 5.0)


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
    st.lists(
        st.tuples(
            st.integers(1, 10_000),
            st.integers(0, 10**9),
            st.lists(st.integers(0, 10**7), min_size=3, max_size=3),
        ),
        max_size=60,
    ),
    st.randoms(use_true_random=False),
)
def test_the_codec_round_trips(drawn: list[tuple[int, int, list[int]]], rng: Any) -> None:
    minutes = sorted(rng.sample(range(60), len(drawn)))
    originals = []
    for minute, (count, p50, steps) in zip(minutes, drawn, strict=True):
        p95, p99, top = (p50 + sum(steps[: n + 1]) for n in range(3))
        latencies = (value / 1000 for value in (p50, p95, p99, top))
        originals.append(
            PackedRollup(T0 + minute * MINUTE, count, rng.randint(0, count), *latencies)
        )

    assert decode_rollups(T0, encode_rollups(T0, originals)) == originals


@pytest.mark.parametrize(
    "moments",
    [
        [T0 + MINUTE, T0 + MINUTE],  # twice the same minute
        [T0 + 2 * MINUTE, T0 + MINUTE],  # out of order
        [T0 + HOUR],  # outside the hour
        [T0 + MINUTE + timedelta(seconds=1)],  # not a whole minute
    ],
)
def test_the_codec_refuses_buckets_that_are_not_the_hours_minutes_in_order(
    moments: list[datetime],
) -> None:
    buckets = [PackedRollup(moment, 1, 0, 1.0, 1.0, 1.0, 1.0) for moment in moments]
    with pytest.raises(ValueError, match="whole minutes"):
        encode_rollups(T0, buckets)


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
        decode_rollups(T0, block)


async def test_migration_0013_downgrade_unpacks_the_minute_blocks(
    database_url: str, build: SampleBuilder
) -> None:
    engine = create_engine(database_url)
    try:
        async with write_transaction(engine) as connection:
            await connection.run_sync(upgrade_to, "head")
        await store(engine, build.spread(T0 + 30 * MINUTE, [1.5, 2.5, 3.5], 15 * MINUTE))
        await roll_up(engine, T0 + 3 * HOUR)
        packed = await counts(engine)
        before = await rollups(engine, "acme", ORDERS, resolution="minute", since=T0, until=END)
        async with write_transaction(engine) as connection:
            await connection.run_sync(downgrade_to, "0012")
        r = sample_rollups.c
        query = select(r.bucket_start, r.count, r.latency_p50_ms).where(r.resolution == "minute")
        async with engine.connect() as connection:
            rows = sorted((as_utc(a), b, c) for a, b, c in await connection.execute(query))
            checkpoints = {
                row.resolution for row in await connection.execute(select(rollup_checkpoints))
            }
    finally:
        await engine.dispose()
    assert packed == (0, 2)
    assert rows == [(b.bucket_start, b.count, b.latency_p50_ms) for b in before]
    assert checkpoints == {"minute", "hour", "packed"}
    assert [b.bucket_start for b in before] == [
        T0 + 30 * MINUTE,
        T0 + 45 * MINUTE,
        T0 + 60 * MINUTE,
    ]
