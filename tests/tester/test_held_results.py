"""Results held while the database is away (``workers.tester.held_results``): found again
by their tenant and command id, never another tenant's, and bounded in age and number."""

from __future__ import annotations

import uuid

from connmgr.workers.tester.held_results import HeldResults
from connmgr.workers.tester.recorder import TestRecord


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(tenant: str = "acme", identity: uuid.UUID | None = None) -> TestRecord:
    return TestRecord(identity or uuid.uuid4(), tenant)


def test_a_held_result_is_found_by_its_tenant_and_command_id_only() -> None:
    held = HeldResults()
    mine = record()
    held.hold(mine)

    assert held.get(("acme", str(mine.identity))) is mine
    assert held.get(("globex", str(mine.identity))) is None  # same id, another tenant
    held.release(mine.key)
    assert held.get(mine.key) is None


def test_a_result_older_than_the_hold_is_dropped() -> None:
    clock = Clock()
    held = HeldResults(hold_s=300.0, clock=clock)
    kept = record()
    held.hold(kept)

    clock.now += 300.0
    assert held.get(kept.key) is kept  # on the bound: still usable
    clock.now += 0.5
    assert held.get(kept.key) is None
    clock.now -= 1.0
    assert held.get(kept.key) is None  # dropped, not merely hidden


def test_past_the_bound_the_oldest_held_goes_first() -> None:
    held = HeldResults(max_held=2)
    first, second, third = record(), record(), record()
    for each in (first, second, third):
        held.hold(each)

    assert held.get(first.key) is None
    assert (held.get(second.key), held.get(third.key)) == (second, third)


def test_holding_again_renews_a_results_place() -> None:
    clock = Clock()
    held = HeldResults(max_held=2, clock=clock)
    first, second, third = record(), record(), record()
    held.hold(first)
    held.hold(second)
    clock.now += 200.0
    held.hold(first)  # its retry failed again: the newest now
    held.hold(third)

    assert held.get(second.key) is None
    clock.now += 250.0  # 450 s after second's hold, 250 after first's new one
    assert (held.get(first.key), held.get(third.key)) == (first, third)
