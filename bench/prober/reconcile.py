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
"""

from __future__ import annotations

import time

import nats

from bench.harness import cpu_seconds, figure, open_stack, phase, seed_connections
from bench.prober.options import Options
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
            await keeper.start()
            cpu, started = cpu_seconds(), time.perf_counter()
            await keeper.reconcile()
            elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        finally:
            await nc.close()
    figure("reconcile_s", elapsed)
    figure("reconcile_connections_per_s", options.connections / elapsed)
    figure("reconcile_cpu_us_per_connection", cpu / options.connections * 1e6)
    figure("reconcile_placements", len(keeper.placements))
