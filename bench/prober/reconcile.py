"""The schedule keeper's start-up ``reconcile`` alone (``--reconcile-only``): no probers.

A prober replica takes no check until its keeper has compared every connection of
the projection with its stored schedule (``ScheduleKeeper.reconcile``), so the time
that takes is the gap a restart leaves at a fleet's size. This mode seeds
``--connections`` connections with checks on straight into the projection
(``harness.seed_connections``), starts a private nats-server with connmgr's streams
and an empty schedule stream (the first start of a fleet: every schedule read finds
none), and times one ``reconcile`` in this process:

- ``reconcile_s``, ``reconcile_connections_per_s``;
- ``reconcile_cpu_us_per_connection``: this process's CPU (the keeper, its NATS and
  SQL clients; not nats-server's or PostgreSQL's) per connection;
- ``reconcile_placements``: the schedules it left to place (all of them here).

Then it places them all, as the keeper's placement loop would, second by second of
the 60 s window, without waiting for the seconds to come (a manual clock):

- ``placing_s``, ``placing_connections_per_s``: publishing every schedule, the
  keeper's reads and the broker's puts;
- ``placing_cpu_us_per_connection``: this process's CPU per schedule placed.
"""

from __future__ import annotations

import math
import time

import nats

from bench.harness import BenchError, cpu_seconds, figure, open_stack, phase, seed_connections
from bench.prober.options import Options
from connmgr.workers.prober.placement import MAX_SPREAD_S, Placements
from connmgr.workers.prober.schedules import ScheduleKeeper
from connmgr.workers.streams import ensure_streams

TENANT = "bench"


async def measure_reconcile(options: Options) -> None:
    async with open_stack("prober-reconcile", keep=options.keep) as stack:
        with phase(f"seeding {options.connections} connections"):
            await seed_connections(stack.engine, TENANT, options.connections)
        nc = await nats.connect(stack.nats_url)
        try:
            await ensure_streams(nc.jetstream())
            keeper = ScheduleKeeper(nc, stack.engine)
            clock = ManualClock()
            keeper.placements = Placements(clock)
            await keeper.start()
            cpu, started = cpu_seconds(), time.perf_counter()
            await keeper.reconcile()
            elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            figure("reconcile_s", elapsed)
            figure("reconcile_connections_per_s", options.connections / elapsed)
            figure("reconcile_cpu_us_per_connection", cpu / options.connections * 1e6)
            figure("reconcile_placements", len(keeper.placements))
            with phase("placing every schedule"):
                cpu, started = cpu_seconds(), time.perf_counter()
                placed = await place_all(keeper, clock)
                elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        finally:
            await nc.close()
    figure("placing_s", elapsed)
    figure("placing_connections_per_s", placed / elapsed)
    figure("placing_cpu_us_per_connection", cpu / max(placed, 1) * 1e6)


class ManualClock:
    """The placements' clock, moved by ``place_all`` rather than by time."""

    def __init__(self) -> None:
        # A whole second: stepped by seconds, it then meets each placement's second
        # exactly (from a fraction near .5, every second would go by unmet).
        self.now = float(math.floor(time.time()))

    def __call__(self) -> float:
        return self.now


async def place_all(keeper: ScheduleKeeper, clock: ManualClock) -> int:
    """Hand every placement to the keeper as its second comes (as ``Placements.run``
    does), the seconds passing as fast as the keeper places; returns how many."""
    placed = 0
    for _ in range(2 * MAX_SPREAD_S):  # every placement's second comes within one window
        due = keeper.placements.take_due()
        await keeper.placements.hand(due, keeper.place_due)
        placed += len(due)
        clock.now += 1
    if len(keeper.placements):
        raise BenchError(f"{len(keeper.placements)} placements never came due")
    return placed
