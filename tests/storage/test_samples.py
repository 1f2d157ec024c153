"""Writing raw probe samples (``storage.samples.insert_samples``), on SQLite and PostgreSQL.

The sample builder is ``support.samples``'s; some tests still import ``T0``,
``SampleBuilder`` and ``store`` from here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.rollups import nearest_rank
from connmgr.storage.samples import insert_samples
from connmgr.storage.tables import samples
from support.samples import ORDERS, T0, SampleBuilder, store


@pytest.fixture
def build() -> SampleBuilder:
    return SampleBuilder()


async def stored(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list(await connection.execute(select(samples).order_by(samples.c.check_id)))


async def test_inserted_samples_are_stored_and_their_check_ids_returned(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    batch = [build.at(T0, 12.5), build.at(T0 + timedelta(seconds=10), 40.0, outcome="timeout")]

    assert await store(engine, batch) == {"check-1", "check-2"}

    rows = await stored(engine)
    assert [(r.check_id, r.outcome, r.latency_ms) for r in rows] == [
        ("check-1", "ok", 12.5),
        ("check-2", "timeout", 40.0),
    ]
    assert rows[0].phases == {"connect": 6.25}
    assert (rows[0].connection_id, rows[0].tenant) == (ORDERS, "acme")
    assert rows[0].checked_at.replace(tzinfo=UTC) == T0


async def test_a_redelivered_check_is_not_stored_twice(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    first = build.at(T0, 10.0, check_id="check-a")
    await store(engine, [first])

    again = build.at(T0, 99.0, check_id="check-a")
    inserted = await store(engine, [again, build.at(T0, 20.0, check_id="check-b")])

    assert inserted == {"check-b"}
    assert [(r.check_id, r.latency_ms) for r in await stored(engine)] == [
        ("check-a", 10.0),
        ("check-b", 20.0),
    ]


async def test_a_check_id_repeated_within_one_batch_counts_once(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    batch = [build.at(T0, 10.0, check_id="same"), build.at(T0, 11.0, check_id="same")]

    assert await store(engine, batch) == {"same"}
    assert len(await stored(engine)) == 1


async def test_an_empty_batch_inserts_nothing(engine: AsyncEngine) -> None:
    assert await store(engine, []) == set()


async def test_samples_commit_or_roll_back_with_the_callers_transaction(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    async def insert_then_fail() -> None:
        async with write_transaction(engine) as connection:
            assert await insert_samples(connection, [build.at(T0)]) == {"check-1"}
            raise RuntimeError("the caller's later write failed")

    with pytest.raises(RuntimeError):
        await insert_then_fail()

    assert await stored(engine) == []


async def test_moments_from_any_timezone_are_stored_as_utc(
    engine: AsyncEngine, build: SampleBuilder
) -> None:
    paris = timezone(timedelta(hours=1))
    await store(engine, [build.at(datetime(2026, 3, 2, 13, 0, tzinfo=paris))])

    assert (await stored(engine))[0].checked_at.replace(tzinfo=UTC) == T0


async def test_a_large_batch_is_inserted_whole(engine: AsyncEngine, build: SampleBuilder) -> None:
    batch = build.spread(T0, range(3000), timedelta(milliseconds=10))

    assert len(await store(engine, batch)) == 3000


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([1.0], 50, 1.0),
        ([1.0], 99, 1.0),
        ([1.0, 2.0], 50, 1.0),
        ([1.0, 2.0], 95, 2.0),
        ([float(v) for v in range(1, 101)], 50, 50.0),
        ([float(v) for v in range(1, 101)], 95, 95.0),
        ([float(v) for v in range(1, 101)], 99, 99.0),
        ([float(v) for v in range(1, 21)], 95, 19.0),
        ([float(v) for v in range(1, 8)], 95, 7.0),
    ],
)
def test_percentiles_are_nearest_rank(values: list[float], percent: int, expected: float) -> None:
    assert nearest_rank(values, percent) == expected


def test_a_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)
