"""The prober pool's process: scheduled and manual checks, status, roll-ups, schedules.

Two consumers feed ``check_handlers``: check commands from ``CONNMGR_CMD`` and
the firings of the check schedules from ``CONNMGR_SCHED``, each with at most
``max_in_flight`` checks at once. Alongside: the schedule keeper (``schedules``),
and the roll-up of samples once a minute. The checks' results go to one batch
writer (``recorder``: samples, state machine, status events in one transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Final

import structlog
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.consumers import PROBE_FIRINGS_CONSUMER, PROBER_CONSUMER
from connmgr.schemas.bus.streams import COMMAND_STREAM, SCHEDULE_STREAM
from connmgr.storage.samples import DEFAULT_RETENTION, Retention, roll_up
from connmgr.workers.batch_writer import BatchWriter
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.concurrent_consumer import ConcurrentConsumer
from connmgr.workers.durables import ensure_consumer
from connmgr.workers.keyring import Keyring
from connmgr.workers.prober.check_handlers import CheckHandlers
from connmgr.workers.prober.recorder import CheckRecord, Recorded, record_checks
from connmgr.workers.prober.schedules import ScheduleKeeper
from connmgr.workers.prober.targets import CheckTargets
from connmgr.workers.streams import ensure_streams

log = structlog.get_logger("connmgr.prober")
ROLLUP_EVERY_S: Final = 60.0


class ProberPool(CheckHandlers):
    def __init__(
        self,
        nc: NatsClient,
        engine: AsyncEngine,
        keyring: Keyring,
        runner: CheckRunner,
        *,
        max_in_flight: int,
        retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        self._nc = nc
        self._engine = engine
        self._runner = runner
        self._max_in_flight = max_in_flight
        self._retention = retention
        self.schedules = ScheduleKeeper(nc, engine)
        self.targets = CheckTargets(engine, keyring)
        self._writer: BatchWriter[CheckRecord, Recorded] = BatchWriter(
            lambda records: record_checks(engine, records), max_batch=512, max_delay_s=0.05
        )

    async def start(self) -> None:
        js = self._nc.jetstream()
        await ensure_streams(js)
        await ensure_consumer(js, COMMAND_STREAM, PROBER_CONSUMER)
        await ensure_consumer(js, SCHEDULE_STREAM, PROBE_FIRINGS_CONSUMER)
        await self.schedules.start()
        await self.schedules.reconcile()

    async def run(self, stop: asyncio.Event) -> None:
        js = self._nc.jetstream()
        commands = ConcurrentConsumer(
            js, COMMAND_STREAM, PROBER_CONSUMER, self.handle, self._max_in_flight
        )
        firings = ConcurrentConsumer(
            js, SCHEDULE_STREAM, PROBE_FIRINGS_CONSUMER, self.handle_firing, self._max_in_flight
        )
        try:
            async with asyncio.TaskGroup() as loops:  # one failing cancels the others
                loops.create_task(commands.run(stop))
                loops.create_task(firings.run(stop))
                loops.create_task(self.schedules.run(stop))
                loops.create_task(self._roll_up_loop(stop))
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop the batchers (after ``run``, or in place of it)."""
        await self._writer.close()
        await self.targets.close()

    async def _roll_up_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await roll_up(self._engine, datetime.now(UTC), retention=self._retention)
            except Exception:
                log.exception("roll_up_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ROLLUP_EVERY_S)
