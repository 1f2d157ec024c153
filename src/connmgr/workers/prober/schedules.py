"""Keeps each connection's JetStream message schedule in step with the projection.

The broker fires the checks: a connection with ``health_check.enabled`` has one
schedule message on ``connmgr.schedule.<tenant>.<id>`` (``Nats-Schedule: @every
<interval>s``, target ``connmgr.cmd.<tenant>.check.<id>``), replaced atomically
with a rollup when the interval changes and purged when the connection is
deleted or its checks disabled. There is no scheduler process to keep alive.
A new or changed schedule is published at the connection's own second of the
interval (``placement``), so firings spread evenly however the schedules came.

The keeper follows ``ConnectionCreated/Updated/Deleted`` on the event stream
(its own durable consumer) but trusts the projection, not the event: for each
event it reads the connection's current state and makes the schedule match. So
replicas may handle events in any order; and a schedule that outlives its
connection anyway is purged by the prober the first time it fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Final

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus import (
    COMMAND_STREAM,
    EVENT_STREAM,
    ROLLUP_HEADER,
    ROLLUP_SUBJECT,
    SCHEDULE_HEADER,
    SCHEDULE_KEEPER_CONSUMER,
    SCHEDULE_TARGET_HEADER,
    command_subject,
    schedule_subject,
)
from connmgr.storage.database import write_transaction
from connmgr.storage.probe_states import lock_probe_states, save_probe_state
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import load_all, load_connection, load_connections
from connmgr.workers.consumer import BatchConsumer, ConsumerOptions
from connmgr.workers.prober.placement import Placements
from connmgr.workers.prober.state_machine import ProbeState, resume
from connmgr.workers.streams import ensure_consumer, ensure_streams

log = structlog.get_logger("connmgr.schedules")
SCHEDULER_ACTOR: Final = "scheduler"
PLACING_AT_ONCE: Final = 32


def schedule_body(state: ConnectionState) -> bytes:
    """The check command each firing delivers; its id is per schedule, so the prober
    tells firings apart by their stream sequence, not by this id."""
    document = {
        "command_id": _schedule_command_id(state),
        "type": "check",
        "connection_id": state.id,
        "issued_at": datetime.now(UTC).isoformat(),
        "actor": {"id": SCHEDULER_ACTOR, "tenant": state.tenant},
        "payload": {},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _schedule_command_id(state: ConnectionState) -> str:
    return str(uuid.uuid5(uuid.UUID(state.id), f"schedule:{state.version}"))


def _interval(state: ConnectionState) -> int:
    return int(state.health_check.get("interval_s", 60))


def _every(state: ConnectionState) -> str:
    return f"@every {_interval(state)}s"


def wants_schedule(state: ConnectionState | None) -> bool:
    return state is not None and not state.deleted and bool(state.health_check.get("enabled"))


class ScheduleKeeper:
    def __init__(self, nc: NatsClient, engine: AsyncEngine) -> None:
        self._nc = nc
        self._engine = engine
        self.placements = Placements()

    async def start(self) -> None:
        js = self._nc.jetstream()
        await ensure_streams(js)
        await ensure_consumer(js, EVENT_STREAM, SCHEDULE_KEEPER_CONSUMER)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = BatchConsumer(
            self._nc.jetstream(),
            EVENT_STREAM,
            SCHEDULE_KEEPER_CONSUMER,
            self.process,
            ConsumerOptions(batch_size=64),
        )
        await asyncio.gather(consumer.run(stop), self.placements.run(self.place_due, stop))

    async def process(self, messages: list[Msg]) -> list[bool]:
        for message in messages:
            event = json.loads(message.data)
            if event["type"] in ("ConnectionUpdated", "SecretsRotated"):
                await self.resume_probing(event["connection_id"])
            await self.sync(event["connection_id"], message.subject)
        return [True] * len(messages)

    async def resume_probing(self, connection_id: str) -> None:
        """A changed connection is worth probing again, even after auth failures."""
        async with write_transaction(self._engine) as connection:
            rows = await lock_probe_states(connection, [connection_id])
            row = rows.get(connection_id)
            if row is not None and row["suspended"]:
                resumed = resume(ProbeState.from_row(row)).to_row(updated_at=datetime.now(UTC))
                await save_probe_state(connection, resumed, existed=True)

    async def sync(self, connection_id: str, subject: str = "") -> None:
        """Make the connection's schedule match its current state (a new or changed
        schedule at the connection's second: see ``placement``)."""
        async with self._engine.connect() as connection:
            state = await load_connection(connection, connection_id)
        if wants_schedule(state):
            assert state is not None
            self.placements.add(state.id, _interval(state))
        elif state is not None:
            await self.remove(state.tenant, state.id)
        else:
            tenant = subject.split(".")[2] if subject.count(".") >= 4 else ""
            if tenant:
                await self.remove(tenant, connection_id)

    async def put(self, state: ConnectionState) -> None:
        headers = {
            SCHEDULE_HEADER: _every(state),
            SCHEDULE_TARGET_HEADER: command_subject(state.tenant, "check", state.id),
            ROLLUP_HEADER: ROLLUP_SUBJECT,
        }
        subject = schedule_subject(state.tenant, state.id)
        await self._nc.jetstream().publish(subject, schedule_body(state), headers=headers)

    async def remove(self, tenant: str, connection_id: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self._nc.jetstream().purge_stream(
                COMMAND_STREAM, subject=schedule_subject(tenant, connection_id)
            )

    async def reconcile(self) -> int:
        """Bring every connection's schedule in step (at start-up); returns how many are on.

        A schedule that already matches is left alone: republishing it would reset
        its timing. The others are published at their connection's second once
        ``run`` starts, not all at once: every replica's start would bunch them."""
        async with self._engine.connect() as connection:
            states = await load_all(connection)
        scheduled = changed = 0
        for state in states.values():
            current = await self._stored_schedule(state.tenant, state.id)
            if wants_schedule(state):
                scheduled += 1
                if current != _every(state):
                    self.placements.add(state.id, _interval(state))
                    changed += 1
            elif current is not None:
                await self.remove(state.tenant, state.id)
                changed += 1
        log.info("schedules_reconciled", scheduled=scheduled, changed=changed)
        return scheduled

    async def place_due(self, connection_ids: list[str]) -> None:
        """Publish the schedules of these connections that the projection still wants
        and the stream does not already hold as such (so timing is never reset)."""
        async with self._engine.connect() as connection:
            states = await load_connections(connection, connection_ids)
        wanted = [state for state in states.values() if state and wants_schedule(state)]
        slots = asyncio.Semaphore(PLACING_AT_ONCE)

        async def place(state: ConnectionState) -> None:
            async with slots:
                try:
                    if await self._stored_schedule(state.tenant, state.id) != _every(state):
                        await self.put(state)
                except Exception:
                    log.exception("schedule_put_failed", connection_id=state.id)

        await asyncio.gather(*(place(state) for state in wanted))

    async def _stored_schedule(self, tenant: str, connection_id: str) -> str | None:
        """The ``Nats-Schedule`` of the connection's stored schedule, if it has one."""
        subject = schedule_subject(tenant, connection_id)
        try:
            stored = await self._nc.jetstream().get_last_msg(COMMAND_STREAM, subject)
        except NotFoundError:
            return None
        return (stored.headers or {}).get(SCHEDULE_HEADER)
