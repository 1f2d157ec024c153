"""Prober fault tests: the prober bench's fleet and its judgement per interval slot.

Shared with the prober bench (``bench/prober/``) rather than copied: ``fleet`` builds
the create commands (``redis``, ``tcp`` and ``http`` connections in turn, tenant
``bench``, ``health_check.interval_s`` = ``INTERVAL_S``), watches the schedules being
put and reads each one's phase; ``meters.SeqTimeline`` says when each firing (stream
sequence) was stored; ``window.judge`` gives, per connection per slot of the window,
``missed`` and ``doubled`` checks and stream sequences recorded twice. The
repository's root is put on ``sys.path`` for that (``bench`` is a package there).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from connmgr.schemas.bus.streams import COMMAND_STREAM
from faultkit.cluster import Cluster
from faultkit.drain import TRANSIENT, relay_lag
from faultkit.load import Plan, PlannedCommand
from faultkit.report import Report
from support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from bench.harness import BenchError, percentile  # noqa: E402
from bench.prober.fleet import Fleet, ScheduleWatch, Targets, build_fleet, read_phases  # noqa: E402
from bench.prober.meters import SeqTimeline  # noqa: E402
from bench.prober.window import (  # noqa: E402
    Schedule,
    WindowFigures,
    judge,
    load_samples,
    wait_until_recorded,
)

INTERVAL_S: Final = 10  # the schema's minimum
SETTLE_S: Final = 60.0

__all__ = ["Fleet", "ScheduleWatch", "SeqTimeline", "Targets"]


def fleet_plan(count: int, targets: Targets) -> tuple[Fleet, Plan]:
    """The bench's fleet of ``count`` checked connections, as a plan to publish."""
    fleet = build_fleet(count, targets, INTERVAL_S)
    commands = [
        PlannedCommand(item.command_id, "create", item.connection_id, item.subject, item.body)
        for item in fleet.commands
    ]
    return fleet, Plan(commands, [])


async def schedules_settled(cluster: Cluster, fleet: Fleet, watch: ScheduleWatch) -> float:
    """Until every connection has its schedule and none was put for a while; when the
    last one was put."""

    async def relayed() -> bool:
        return await relay_lag(cluster.engine) == 0

    return await watch.wait_settled(fleet.ids, relayed, SETTLE_S)


@dataclass(frozen=True, slots=True)
class Window:
    """The slots judged: ``[w0, w1)``, phases read once the schedules settled."""

    fleet: Fleet
    phases: dict[str, float]
    settled: float
    w0: float
    w1: float

    @classmethod
    async def following(
        cls, cluster: Cluster, fleet: Fleet, settled: float, w0: float, intervals: int
    ) -> Window:
        phases = await read_phases(cluster.nc.jetstream(), fleet.ids)
        return cls(fleet, phases, settled, w0, w0 + intervals * INTERVAL_S)

    async def judge(self, cluster: Cluster, timeline: SeqTimeline, late_s: float) -> WindowFigures:
        """After ``w1``, wait up to ``late_s`` for the window's firings to have their
        samples (the rest are missed), then judge every slot of the window."""
        await wait_for(lambda: time.time() >= self.w1, timeout=self.w1 - time.time() + 30)
        after, up_to = timeline.seq_at(self.w0), timeline.seq_at(self.w1)
        await wait_until_recorded(cluster.engine, after, up_to, _no_check, late_s)
        schedule = Schedule(
            self.phases, self.fleet.kinds, INTERVAL_S, self.w0, self.w1, self.settled
        )
        return judge(await load_samples(cluster.engine, self.w0), schedule, timeline)


async def started_timeline(cluster: Cluster) -> SeqTimeline:
    """A sequence timeline polling from now on (once the broker answers again: a
    poll that fails ends the timeline)."""
    js = cluster.nc.jetstream()
    await wait_for(
        lambda: js.stream_info(COMMAND_STREAM),
        timeout=30,
        message="the broker answers",
        ignoring=TRANSIENT,
    )
    timeline = SeqTimeline(js)
    timeline.start()

    def polled() -> bool:
        try:
            timeline.seq_at(time.time())
        except BenchError:
            return False
        return True

    await wait_for(polled, timeout=30, message="the sequence timeline has a first point")
    return timeline


def _no_check() -> None:
    """The supervisor watches the processes; ``wait_until_recorded`` needs no more."""


def slot_table(title: str, figures: WindowFigures, extra: list[tuple[str, str]]) -> str:
    lags = figures.lags_ms
    rows = [
        ("slots expected (connections x intervals)", str(figures.expected)),
        (
            "checked (slots with a check)",
            f"{figures.expected - figures.missed} of {figures.expected}",
        ),
        ("checks missed", str(figures.missed)),
        ("checks doubled (same slot)", str(figures.doubled)),
        ("stream sequences recorded twice", str(figures.duplicate_sequences)),
        ("samples checked in the window", str(figures.in_window)),
        (
            "lag after slot p50 / p99 / max",
            f"{percentile(lags, 0.5):.0f} / {percentile(lags, 0.99):.0f} / {max(lags):.0f} ms",
        ),
        *extra,
    ]
    return Report(title, rows).table()
