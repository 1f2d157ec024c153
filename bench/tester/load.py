"""One measured pass through the tester: publish test commands, wait for every outcome.

``run_tests`` publishes pre-built ``test`` commands (``harness.publish_all``: at
most ``PUBLISH_WINDOW`` unacknowledged) and times from the first publish until
``handled_commands`` holds a row for each (polled every ``harness.POLL_S``): a row
is written in the same transaction as the command's ``ConnectionTested``, so that
is the moment every outcome was recorded. Over the same window it reads the tester
process's CPU (``utime + stime``). Then it reads back what the tester recorded
(``recorded``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import (
    ChildProcess,
    Outgoing,
    count_rows,
    cpu_seconds,
    log_head,
    publish_all,
    wait_for,
    wait_for_consumer,
)
from bench.tester.recorded import Recorded, read_recorded
from connmgr.schemas.bus.consumers import TESTER_CONSUMER
from connmgr.storage.tables import handled_commands

TESTER_START_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class PassFigures:
    """One pass: rate, CPU of the measured process, and what each kind recorded."""

    tests: int
    elapsed_s: float
    cpu_s: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    not_ok: dict[str, int] = field(default_factory=dict)
    recorded: Recorded | None = None

    @property
    def per_s(self) -> float:
        return self.tests / self.elapsed_s

    @property
    def cpu_percent(self) -> float:
        """Of one core, over the pass."""
        return 100 * self.cpu_s / self.elapsed_s

    @property
    def cpu_ms_per_test(self) -> float:
        return 1000 * self.cpu_s / self.tests

    @property
    def in_flight(self) -> float:
        """Mean checks (or bare operations) running at once over the pass (Little's law)."""
        busy_ms = sum(sum(values) for values in self.latencies_ms.values())
        return busy_ms / 1000 / self.elapsed_s


async def wait_for_tester(js: JetStreamContext, tester: ChildProcess) -> None:
    """Until the tester has a pull request waiting on its durable consumer."""
    await wait_for_consumer(js, TESTER_CONSUMER.durable, tester.check_running, TESTER_START_S)


async def run_tests(
    js: JetStreamContext,
    engine: AsyncEngine,
    items: Sequence[Outgoing],
    tester: ChildProcess,
    kind_of: Mapping[str, str],
) -> PassFigures:
    """Publish ``items``, wait for all their outcomes; the pass's figures."""
    target = await count_rows(engine, handled_commands) + len(items)
    after = await log_head(engine)
    cpu_before, started = cpu_seconds(tester.pid), time.perf_counter()
    await publish_all(js, items)
    await _wait_for_handled(engine, target, tester, timeout_s=60 + len(items) / 20)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(tester.pid) - cpu_before
    recorded = await read_recorded(engine, after, kind_of)
    return PassFigures(len(items), elapsed, cpu, recorded.latencies_ms, recorded.not_ok, recorded)


async def _wait_for_handled(
    engine: AsyncEngine, target: int, tester: ChildProcess, timeout_s: float
) -> None:
    async def handled() -> str | None:
        seen = await count_rows(engine, handled_commands)
        return None if seen >= target else f"{seen} of {target} commands handled"

    await wait_for(handled, tester.check_running, timeout_s)
