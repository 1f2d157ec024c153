"""Prober replicas and the broker's schedules under faults: one check per connection
per interval, a lost replica costs only the checks it held, and schedules outlive
a broker crash.

The prober bench's fleet (``redis``, ``tcp`` and ``http`` connections, checked
every 10 s, the schema's minimum) against the machine's Redis and listeners of
the test's own; each slot of a measured window is judged as the bench does
(``faultkit.probes``), then I1-I7 on the whole log (creates and status events).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

import pytest
from faultkit.cluster import Cluster, ClusterOptions, StartCluster
from faultkit.load import Plan
from faultkit.observe import consumer_stats
from faultkit.outages import hold_fault_for
from faultkit.probes import (
    INTERVAL_S,
    Fleet,
    ScheduleWatch,
    SeqTimeline,
    Targets,
    Window,
    fleet_plan,
    schedules_settled,
    slot_table,
    started_timeline,
)
from faultkit.reruns import HELD_FIRINGS, TIMING_RERUNS
from faultkit.scenario import Run
from faultkit.targets import slow_http_target, tcp_target
from sqlalchemy import distinct, func, select

from connmgr.schemas.bus.consumers import PROBE_FIRINGS_CONSUMER
from connmgr.schemas.bus.streams import SCHEDULE_STREAM
from connmgr.storage.tables import samples
from connmgr.workers.concurrent_consumer import FETCH_TIMEOUT_S
from support.waiting import wait_for

pytestmark = [pytest.mark.faults, TIMING_RERUNS]

CONNECTIONS = 30
ACK_WAIT_S = PROBE_FIRINGS_CONSUMER.ack_wait_s
SAMPLED_S = 2.0
"""Two seconds of the broker's firings (it fires schedules on whole seconds)."""


async def scheduled_fleet(cluster: Cluster, targets: Targets) -> tuple[Fleet, Run, float]:
    """Create the fleet (into the run's history) and wait until its schedules settled."""
    watch = ScheduleWatch()
    await watch.start(cluster.nc)
    fleet, creates = fleet_plan(CONNECTIONS, targets)
    try:
        run = await Run.after(cluster, creates, Plan([], []))
        settled = await schedules_settled(cluster, fleet, watch)
    finally:
        await watch.stop()
    return fleet, run, settled


async def last_seq(cluster: Cluster) -> int:
    return (await cluster.nc.jetstream().stream_info(SCHEDULE_STREAM)).state.last_seq


async def stopped_with_firings_in_hand(cluster: Cluster, victim_index: int, by: float) -> int:
    """As a firing is stored, SIGSTOP one replica; once its last pull request has
    expired and the others have acked theirs, the consumer's unacknowledged messages
    are the stopped replica's: its checks in flight. Firings are spread over the
    interval, so a replica stopped between two pulls may hold none: it is let go and
    stopped again at a later firing, until ``by`` (wall clock). Returns how many."""
    victim = cluster.probers[victim_index]
    while time.time() < by:
        before = await last_seq(cluster)
        await wait_for(
            lambda seq=before: _beyond(cluster, seq),
            timeout=2 * INTERVAL_S,
            interval=0.02,
            message="the next firing is stored",
        )
        victim.signal(signal.SIGSTOP)
        least = LeastAckPending(cluster, not_before=time.monotonic() + FETCH_TIMEOUT_S)
        held = await wait_for(least.poll, timeout=INTERVAL_S, interval=0.1, message=HELD_FIRINGS)
        assert isinstance(held, Held)
        if held.count:
            return held.count
        victim.signal(signal.SIGCONT)
    raise AssertionError(f"timed out waiting for {HELD_FIRINGS}: every freeze caught none")


async def _beyond(cluster: Cluster, seq: int) -> bool:
    return await last_seq(cluster) > seq


@dataclass(frozen=True, slots=True)
class Held:
    count: int


class LeastAckPending:
    """The least ack-pending count of the prober consumer over ``SAMPLED_S`` once the
    stopped replica's pull request has expired (``not_before``, monotonic). The
    others' checks are in flight for a moment after each second's firings; the
    stopped replica's stay unacknowledged, so the least count is its own."""

    def __init__(self, cluster: Cluster, not_before: float) -> None:
        self.cluster = cluster
        self.not_before = not_before
        self.least: int | None = None

    async def poll(self) -> Held | None:
        now = time.monotonic()
        if now < self.not_before:
            return None
        ack_pending = (
            await consumer_stats(self.cluster.nc, PROBE_FIRINGS_CONSUMER, SCHEDULE_STREAM)
        ).ack_pending
        self.least = ack_pending if self.least is None else min(self.least, ack_pending)
        return Held(self.least) if now >= self.not_before + SAMPLED_S else None


async def test_a_prober_killed_mid_run_misses_no_more_than_the_checks_it_held(
    start_cluster: StartCluster,
) -> None:
    """Three replicas; at a firing one is frozen, and once the others have acked
    theirs it is SIGKILLed (its checks in hand unacknowledged) and started
    again. Over three intervals: no slot of any connection is checked twice, no
    firing is recorded twice, and the slots without a check are at most the ones
    the killed replica held (redelivered after the ack wait, they are checked late)."""
    async with tcp_target() as tcp_port, slow_http_target(0.0) as http_url:
        cluster = await start_cluster(ClusterOptions(encryptors=1, probers=3))
        timeline = SeqTimeline(cluster.nc.jetstream())
        timeline.start()  # before the first schedule: every firing is on it
        try:
            fleet, run, settled = await scheduled_fleet(cluster, targets_of(tcp_port, http_url))
            window = await Window.following(cluster, fleet, settled, time.time(), intervals=3)
            victim = cluster.probers[0]
            async with cluster.fault(f"SIGKILL {victim.name} with firings in hand, restarted"):
                held = await stopped_with_firings_in_hand(
                    cluster, victim_index=0, by=window.w1 - INTERVAL_S
                )
                await victim.restart()
            figures = await window.judge(cluster, timeline, late_s=ACK_WAIT_S + INTERVAL_S)
        finally:
            await timeline.stop()
        title = f"SIGKILL a prober replica holding {held} checks"
        print(slot_table(title, figures, [("checks held by the killed replica", str(held))]))
        await run.finish(title)
    assert figures.expected == CONNECTIONS * 3, "not every schedule's slots were judged"
    assert figures.duplicate_sequences == 0, "a firing was recorded twice"
    assert figures.doubled == 0, "a connection was checked twice in one interval"
    assert figures.missed <= held, f"{figures.missed} missed, the killed replica held {held}"


async def test_schedules_survive_a_broker_crash_and_keep_firing(
    start_cluster: StartCluster,
) -> None:
    """Two replicas; once the schedules fire, nats-server is SIGKILLed, kept down 3 s
    and started on its store. Every schedule is still there and, over the two
    intervals after the restart, every connection is checked once per interval."""
    async with tcp_target() as tcp_port, slow_http_target(0.0) as http_url:
        cluster = await start_cluster(ClusterOptions(encryptors=1, probers=2))
        fleet, run, settled = await scheduled_fleet(cluster, targets_of(tcp_port, http_url))
        await wait_for(
            lambda: sampled_connections(cluster, CONNECTIONS),
            timeout=3 * INTERVAL_S,
            message="every connection is checked once",
        )
        async with cluster.fault("nats-server SIGKILLed, down 3 s, restarted on its store"):
            await cluster.kill_nats()
            await hold_fault_for(3.0)
            await cluster.restart_nats()
        timeline = await started_timeline(cluster)
        try:
            window = await Window.following(cluster, fleet, settled, time.time(), intervals=2)
            figures = await window.judge(cluster, timeline, late_s=INTERVAL_S)
        finally:
            await timeline.stop()
        title = "SIGKILL nats-server, restart on its store: schedules"
        print(slot_table(title, figures, [("schedules read back", str(len(window.phases)))]))
        await run.finish(title)
    assert figures.expected == CONNECTIONS * 2, "a schedule was not read back after the crash"
    assert figures.duplicate_sequences == 0, "a firing was recorded twice"
    assert figures.doubled == 0, "a connection was checked twice in one interval"
    assert figures.missed == 0, f"{figures.missed} slots were not checked after the restart"


def targets_of(tcp_port: int, http_url: str) -> Targets:
    return Targets(tcp_ports=[tcp_port], http_ports=[int(http_url.rsplit(":", 1)[1])])


async def sampled_connections(cluster: Cluster, count: int) -> bool:
    async with cluster.engine.connect() as connection:
        checked = await connection.scalar(select(func.count(distinct(samples.c.connection_id))))
    return int(checked or 0) >= count
