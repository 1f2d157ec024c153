"""Schedules are published at their connection's own second, so firings spread evenly."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from connmgr.workers.prober.placement import (
    LEAD_S,
    MAX_SPREAD_S,
    Placements,
    offset_of,
    placement_time,
)


@given(st.uuids(), st.integers(min_value=10, max_value=86_400), st.floats(0, 2e9))
def test_a_placement_is_the_connections_second_within_one_window(
    connection: uuid.UUID, interval_s: int, now: float
) -> None:
    at = placement_time(str(connection), interval_s, now)
    window = min(interval_s, MAX_SPREAD_S)
    assert at == int(at)
    assert now <= at < now + window + 1
    assert at % window == offset_of(str(connection), window)


def test_schedules_placed_together_fire_spread_over_the_interval() -> None:
    ids = [str(uuid.uuid4()) for _ in range(10_000)]
    seconds = Counter(int(placement_time(cid, 10, 1_700_000_000.3)) for cid in ids)
    assert len(seconds) == 10
    assert max(seconds.values()) < 1_150  # even would be 1,000 a second


def test_minute_schedules_placed_together_fire_spread_over_the_minute() -> None:
    ids = [str(uuid.uuid4()) for _ in range(6_000)]
    seconds = Counter(int(placement_time(cid, 60, 1_700_000_000.3)) % 60 for cid in ids)
    assert len(seconds) == 60
    assert max(seconds.values()) < 150  # even would be 100 a second


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_placements_come_due_at_their_second_once_each() -> None:
    clock = Clock(1_700_000_000.6)
    placements = Placements(clock)
    ids = [str(uuid.uuid4()) for _ in range(50)]
    for connection_id in ids + ids:
        placements.add(connection_id, 10)
    assert len(placements) == 50
    taken: list[str] = []
    for _ in range(11):
        due = placements.take_due()
        assert all(
            clock.now < placement_time(cid, 10, clock.now) <= clock.now + LEAD_S for cid in due
        )
        taken += due
        clock.now += 1
    assert sorted(taken) == sorted(ids)
    assert len(placements) == 0


def test_a_placement_whose_second_went_by_waits_for_its_next_one() -> None:
    clock = Clock(1_700_000_000.6)
    placements = Placements(clock)
    ids = [str(uuid.uuid4()) for _ in range(50)]
    for connection_id in ids:
        placements.add(connection_id, 10)
    clock.now += 20  # the loop was busy: every second went by
    now_due = {cid for cid in ids if offset_of(cid, 10) == 1}  # the second about to come
    assert set(placements.take_due()) == now_due
    assert len(placements) == 50 - len(now_due)


def test_a_placement_keeps_whether_its_adder_saw_no_stored_schedule() -> None:
    clock = Clock(1_700_000_000.6)
    placements = Placements(clock)
    ids = [str(uuid.uuid4()) for _ in range(40)]
    for index, connection_id in enumerate(ids):
        placements.add(connection_id, 10, absent=index % 2 == 0)
    clock.now += 20  # every second went by: each waits for its next, flag and all
    taken: dict[str, bool] = {}
    for _ in range(11):
        taken |= placements.take_due()
        clock.now += 1
    assert taken == {cid: index % 2 == 0 for index, cid in enumerate(ids)}


async def test_the_loop_hands_each_due_placement_with_whether_none_was_stored() -> None:
    clock = Clock(1_700_000_000.6)  # the next whole second is within LEAD_S
    placements = Placements(clock)
    next_second = [cid for cid in (str(uuid.uuid4()) for _ in range(200)) if due_now(cid, clock)]
    absent, stored = next_second[:2]
    placements.add(absent, 10, absent=True)
    placements.add(stored, 10)
    handed: list[tuple[list[str], set[str]]] = []
    stop = asyncio.Event()

    async def place(connection_ids: list[str], none_stored: set[str]) -> None:
        handed.append((connection_ids, none_stored))
        stop.set()

    await asyncio.wait_for(placements.run(place, stop), timeout=5)

    assert [(sorted(ids), flagged) for ids, flagged in handed] == [
        (sorted([absent, stored]), {absent})
    ]


def due_now(connection_id: str, clock: Clock) -> bool:
    return placement_time(connection_id, 10, clock.now) <= clock.now + LEAD_S
