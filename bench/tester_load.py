"""One measured pass through the tester: publish test commands, wait for every outcome.

``run_tests`` publishes pre-built ``test`` commands with JetStream
``publish_async`` (at most ``PUBLISH_WINDOW`` unacknowledged) and times from the
first publish until ``handled_commands`` holds a row for each (polled every
``POLL_S``): a row is written in the same transaction as the command's
``ConnectionTested``, so that is the moment every outcome was recorded. Over the
same window it reads the tester process's CPU (``utime + stime``). Then it reads
back what the tester recorded (``tester_recorded``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus import COMMAND_STREAM, TESTER_CONSUMER
from connmgr.storage.tables import events, handled_commands
from harness import BenchError, ChildProcess, cpu_seconds
from tester_fleet import subject_of
from tester_recorded import Recorded, read_recorded
from write_load import Outgoing, publish_one

POLL_S: Final = 0.05
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
    deadline = time.monotonic() + TESTER_START_S
    while True:
        tester.check_running()
        with contextlib.suppress(NotFoundError):
            info = await js.consumer_info(COMMAND_STREAM, TESTER_CONSUMER.durable)
            if (info.num_waiting or 0) >= 1:
                return
        if time.monotonic() > deadline:
            raise BenchError(f"the tester did not start pulling within {TESTER_START_S:.0f}s")
        await asyncio.sleep(0.1)


async def run_tests(
    js: JetStreamContext,
    engine: AsyncEngine,
    items: Sequence[Outgoing],
    tester: ChildProcess,
    kind_of: Mapping[str, str],
) -> PassFigures:
    """Publish ``items``, wait for all their outcomes; the pass's figures."""
    target = await _count(engine, handled_commands) + len(items)
    after = await _last_position(engine)
    cpu_before, started = cpu_seconds(tester.pid), time.perf_counter()
    acks = [await publish_one(js, subject_of(item), item, COMMAND_STREAM) for item in items]
    await asyncio.gather(*acks)
    await _wait_for_handled(engine, target, tester, timeout_s=60 + len(items) / 20)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(tester.pid) - cpu_before
    recorded = await read_recorded(engine, after, kind_of)
    return PassFigures(len(items), elapsed, cpu, recorded.latencies_ms, recorded.not_ok, recorded)


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def _last_position(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        last = (await connection.execute(select(func.max(events.c.position)))).scalar_one()
    return int(last or 0)


async def _wait_for_handled(
    engine: AsyncEngine, target: int, tester: ChildProcess, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while (seen := await _count(engine, handled_commands)) < target:
        tester.check_running()
        if time.monotonic() > deadline:
            raise BenchError(f"{seen} of {target} commands handled after {timeout_s:.0f}s")
        await asyncio.sleep(POLL_S)
