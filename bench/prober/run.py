"""One prober bench run, step by step (``__main__`` prints what it returns).

1. Local targets, the encryptor and the relay; create the fleet through the
   encryptor, as fast as it takes the commands; wait until every connection is
   stored and every event relayed. The probers are not running yet: a prober
   flush that records status changes appends events, and the one global hash
   chain makes it wait behind the encryptor's transactions (see the README).
2. Start the prober replicas: their start-up ``reconcile()`` and the schedule
   keeper (its new durable consumer replays ``ConnectionCreated``) publish the
   schedules. Wait until every connection has one, the keeper is drained and no
   schedule was published for two seconds; read each one's stored time (phase).
3. Warm up for one interval after the last schedule, and on until every
   connection's first check (its ``unknown -> healthy`` event) is written and
   the prober consumer has no backlog (bounded: past the bound the window starts
   anyway, and the figures show the overload).
4. Measure for ``duration``: CPU of every process, the stream's sequence timeline.
5. Wait until every firing up to the window's end has its sample; judge the
   window; read the probers' peak RSS; stop every worker; measure storage.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Final

import nats
from nats.js import JetStreamContext
from sqlalchemy import text

from bench.harness import (
    PUBLISH_WINDOW,
    Stack,
    note,
    peak_rss_mb,
    phase,
    publish_all,
    start_targets,
    wait_for_consumer,
)
from bench.prober.fleet import (
    Fleet,
    ScheduleWatch,
    Targets,
    build_fleet,
    read_phases,
    wait_for_log,
)
from bench.prober.meters import CpuWindow, SeqTimeline, pids_with_argument
from bench.prober.options import Options
from bench.prober.progress import Progress
from bench.prober.storage import StorageFigures, measure_storage
from bench.prober.window import Schedule, WindowFigures, judge, load_samples, wait_until_recorded
from connmgr.schemas.bus.consumers import ENCRYPTOR_CONSUMER

WORKERS_START_S: Final = 90.0
FIRST_FIRING_MARGIN_S: Final = 1.0  # the broker rounds the schedule's time to the second
SETTLE_AFTER_S: Final = 1.0
WARMUP_BOUND_INTERVALS: Final = 6


@dataclass(frozen=True, slots=True)
class RunFigures:
    window: WindowFigures
    window_s: float
    redelivered: int
    cpu: CpuWindow
    peak_rss_mb: dict[str, float]
    storage: StorageFigures


async def sleep_until(moment: float, stack: Stack) -> None:
    """Until wall time ``moment``, checking every half second that the children live."""
    while (left := moment - time.time()) > 0:
        stack.check_running()
        await asyncio.sleep(min(left, 0.5))


async def measure(stack: Stack, options: Options) -> RunFigures:
    with phase("local targets"):
        targets = Targets(
            await start_targets(stack, "tcp", options.target_ports),
            await start_targets(stack, "http", options.target_ports),
        )
    fleet = build_fleet(options.connections, targets, options.interval)
    nc = await nats.connect(stack.nats_url, name="connmgr-bench-prober")
    timeline = SeqTimeline(nc.jetstream())
    progress = Progress(stack, nc.jetstream(), ScheduleWatch())
    try:
        await create_fleet(stack, nc.jetstream(publish_async_max_pending=PUBLISH_WINDOW), fleet)
        timeline.start()  # before the first schedule: every firing is on it
        await progress.start(nc)  # sees every schedule message from now on
        probers = [
            stack.start_worker("prober", f"prober-{n}") for n in range(1, options.replicas + 1)
        ]
        ready = await schedules_in_place(progress, fleet, options)
        window, cpu = await probe(progress, fleet, options, timeline, ready)
        rss = {child.name: peak_rss_mb(child.pid) for child in probers}
        redelivered = await progress.redelivered()
    finally:
        await progress.stop()
        await timeline.stop()
        await nc.close()
    with phase("stopping the workers"):
        await stack.stop_children()
    with phase("storage figures"):
        rate = window.in_window / options.duration
        storage = await measure_storage(stack.engine, rate, options.connections, options.interval)
    return RunFigures(window, options.duration, redelivered, cpu, rss, storage)


async def create_fleet(stack: Stack, js: JetStreamContext, fleet: Fleet) -> None:
    stack.start_worker("encryptor")
    stack.start_worker("relay")
    with phase("encryptor start"):
        await wait_for_consumer(js, ENCRYPTOR_CONSUMER.durable, stack.check_running, 90.0)
    with phase(f"creating {len(fleet.kinds)} connections"):
        await publish_all(js, fleet.commands)
        timeout_s = 120 + len(fleet.kinds) / 20
        await wait_for_log(stack.engine, len(fleet.kinds), stack.check_running, timeout_s)


async def schedules_in_place(progress: Progress, fleet: Fleet, options: Options) -> float:
    """Until the probers have given every connection its schedule; the last one's time."""
    with phase("probers start, schedules"):
        ready = await progress.watch.wait_settled(
            fleet.ids, progress.keeper_drained, WORKERS_START_S + len(fleet.kinds) / 10
        )
    puts, count = progress.watch.puts, len(fleet.kinds)
    # Seen on the subjects, so puts the broker refused (placed by another replica) count.
    note(f"{puts} schedule puts for {count} connections (refused ones included)")
    return ready


async def probe(
    progress: Progress, fleet: Fleet, options: Options, timeline: SeqTimeline, ready: float
) -> tuple[WindowFigures, CpuWindow]:
    stack = progress.stack
    puts_at_ready = progress.watch.puts
    with phase("warm-up"):
        phases = await read_phases(progress.js, fleet.ids)
        note_phase_spread(phases, options.interval)
        await sleep_until(ready + options.interval + FIRST_FIRING_MARGIN_S, stack)
        await progress.until_steady(len(fleet.kinds), options.interval * WARMUP_BOUND_INTERVALS)
    w0 = time.time()
    cpu = CpuWindow(await process_groups(stack))
    cpu.begin()
    w1 = w0 + options.duration
    with phase("measured window"):
        await sleep_until(w1, stack)
    cpu.end()
    await sleep_until(w1 + SETTLE_AFTER_S, stack)
    after, up_to = timeline.seq_at(w0 - SETTLE_AFTER_S), timeline.seq_at(w1 + SETTLE_AFTER_S)
    with phase("last samples"):
        settle_s = max(15.0, options.interval + 10.0)
        await wait_until_recorded(stack.engine, after, up_to, stack.check_running, settle_s)
    if progress.watch.puts != puts_at_ready:
        note(f"{progress.watch.puts - puts_at_ready} schedules were published again after warm-up")
    schedule = Schedule(phases, fleet.kinds, options.interval, w0, w1, ready)
    return judge(await load_samples(stack.engine, w0), schedule, timeline), cpu


async def process_groups(stack: Stack) -> dict[str, list[int]]:
    """The run's processes by name: children, nats-server, this database's backends."""
    groups = {child.name: [child.pid] for child in stack.children}
    groups["nats-server"] = pids_with_argument(str(stack.workdir / "nats"))
    async with stack.engine.connect() as connection:
        backends = await connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        groups["postgres"] = [row.pid for row in backends]
    return groups


def note_phase_spread(phases: dict[str, float], interval: int) -> None:
    """How evenly the firings spread over the interval's seconds (they fire on whole seconds)."""
    per_second = Counter(int(phase) % interval for phase in phases.values())
    note(
        f"firings per second of the interval: busiest {max(per_second.values())}, quietest "
        f"{min(per_second.get(second, 0) for second in range(interval))} "
        f"(even: {len(phases) / interval:.0f})"
    )
