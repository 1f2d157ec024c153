"""The prober pool's process: scheduled and manual checks, status, roll-ups, schedules.

Two inputs, one check path: the firings of the broker's check schedules
(``connmgr.probe.<tenant>.<id>`` on ``CONNMGR_SCHED``, which only the prober
writes and reads; durable ``prober-firings``, ``handle_firing``) and on-demand
``check`` commands (``connmgr.cmd.<tenant>.check.<id>`` on ``CONNMGR_CMD``;
durable ``prober``, ``handle``). A message is scheduled because of the stream it
came from, never because of a header a producer could set.

Per check: find the connection through the batched, cached
target reads of ``targets`` (a deleted one has its schedule purged and is never
checked again), skip scheduled checks of a suspended
connection, run the kind's check under the runner's bounds, and hand the result
to the batch writer (samples, state machine, status events in one transaction);
then ack, and answer a manual check on its ``reply_to``. Scheduled firings are
told apart by their stream sequence, so a redelivered firing counts once.
A firing whose body does not match its subject is dropped with a warning.
Alongside: the schedule keeper, and the roll-up of samples once a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Final

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus import (
    COMMAND_STREAM,
    PROBE_FIRINGS_CONSUMER,
    PROBER_CONSUMER,
    SCHEDULE_STREAM,
    parse_command_subject,
    parse_probe_subject,
)
from connmgr.schemas.outcomes import Rejection
from connmgr.schemas.probe_commands import CheckConnection, parse_probe_command
from connmgr.storage.samples import DEFAULT_RETENTION, Retention, roll_up
from connmgr.workers.batch_writer import BatchWriter
from connmgr.workers.concurrent_consumer import ConcurrentConsumer
from connmgr.workers.keyring import Keyring
from connmgr.workers.prober.recorder import CheckRecord, Recorded, record_checks
from connmgr.workers.prober.schedules import ScheduleKeeper
from connmgr.workers.prober.targets import CheckTargets
from connmgr.workers.streams import ensure_consumer, ensure_streams
from connmgr.workers.tester.runner import CheckRunner

log = structlog.get_logger("connmgr.prober")
ROLLUP_EVERY_S: Final = 60.0


class ProberPool:
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

    async def handle(self, message: Msg) -> bool:
        parsed = parse_probe_command(message.data)
        address = parse_command_subject(message.subject)
        if isinstance(parsed, Rejection) or not isinstance(parsed, CheckConnection):
            log.warning("check_discarded", reason="not a check command")
            return True
        if address is None or address.tenant != parsed.actor.tenant:
            log.warning("check_discarded", reason="subject mismatch")
            return True
        record = await self._check(parsed, str(parsed.command_id), scheduled=False)
        if record is None:
            return True
        recorded = await self._writer.submit(record)
        if parsed.reply_to and recorded.outcome is not None:
            await self._nc.publish(parsed.reply_to, recorded.outcome.model_dump_json().encode())
        return True

    async def handle_firing(self, message: Msg) -> bool:
        """A scheduled check from ``CONNMGR_SCHED``: counted once per stream sequence,
        skipped while probing is suspended, answered to no one."""
        parsed = parse_probe_command(message.data)
        address = parse_probe_subject(message.subject)
        if (
            not isinstance(parsed, CheckConnection)
            or address is None
            or (address.tenant, address.connection_id)
            != (parsed.actor.tenant, str(parsed.connection_id))
        ):
            log.warning("firing_discarded", reason="not a check of its subject's connection")
            return True
        check_id = f"scheduled:{message.metadata.sequence.stream}"
        record = await self._check(parsed, check_id, scheduled=True)
        if record is not None:
            await self._writer.submit(record)
        return True

    async def _check(
        self, command: CheckConnection, check_id: str, scheduled: bool
    ) -> CheckRecord | None:
        tenant, connection_id = command.actor.tenant, str(command.connection_id)
        lookup = await self.targets.get(tenant, connection_id)
        prepared = lookup.prepared
        if prepared is None:
            await self.schedules.remove(tenant, connection_id)
            return None
        if scheduled and lookup.suspended:
            return None
        result = prepared.unusable or await self._runner.run(prepared.target)
        return CheckRecord(
            check_id=check_id,
            connection_id=connection_id,
            tenant=tenant,
            checked_at=datetime.now(UTC),
            result=result,
            command=None if scheduled else command,
        )

    async def _roll_up_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await roll_up(self._engine, datetime.now(UTC), retention=self._retention)
            except Exception:
                log.exception("roll_up_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ROLLUP_EVERY_S)
