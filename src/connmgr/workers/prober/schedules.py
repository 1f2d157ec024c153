"""Keeps each connection's JetStream message schedule in step with the projection.

The broker fires the checks: a connection with ``health_check.enabled`` has one
schedule message on ``connmgr.schedule.<tenant>.<id>`` (``Nats-Schedule: @every
<interval>s``, target ``connmgr.probe.<tenant>.<id>``) in ``CONNMGR_SCHED``, a
stream only the prober writes and reads (tenants' command stream allows no
schedules, so no tenant can fire anything at another's subject), replaced atomically
with a rollup when the interval changes and purged when the connection is
deleted or its checks disabled. There is no scheduler process to keep alive.
A new or changed schedule is published at the connection's own second of the
interval (``placement``), so firings spread evenly however the schedules came.

The keeper follows ``ConnectionCreated/Updated/Deleted`` on the event stream
(its own durable consumer) but trusts the projection, not the event: for each
event it reads the connection's current state and makes the schedule match. So
replicas may handle events in any order; and a schedule that outlives its
connection anyway is purged by the prober the first time it fires. The schedule
messages themselves (read, put over the one read, purged) are
``schedule_messages``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Final

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.consumers import SCHEDULE_KEEPER_CONSUMER
from connmgr.schemas.bus.streams import EVENT_STREAM
from connmgr.storage.database import write_transaction
from connmgr.storage.probe_states import lock_probe_states, save_probe_state
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import load_connection, load_connections, load_page
from connmgr.workers.consumer import BatchConsumer, ConsumerOptions
from connmgr.workers.durables import ensure_consumer
from connmgr.workers.prober.placement import Placements
from connmgr.workers.prober.schedule_messages import (
    StoredSchedule,
    every_of,
    interval_of,
    purge_schedule,
    put_schedule,
    read_stored_schedules,
    wants_schedule,
)
from connmgr.workers.prober.state_machine import ProbeState, resume

log = structlog.get_logger("connmgr.schedules")
PLACING_AT_ONCE: Final = 32
PLACING_ROUNDS: Final = 3
RECONCILE_PAGE: Final = 1000
NONE_STORED: Final = StoredSchedule(every=None, sequence=0)


class ScheduleKeeper:
    def __init__(self, nc: NatsClient, engine: AsyncEngine) -> None:
        self._nc = nc
        self._engine = engine
        self.placements = Placements()

    async def start(self) -> None:
        """Declare the keeper's durable (the streams are the prober's ``start``)."""
        await ensure_consumer(self._nc.jetstream(), EVENT_STREAM, SCHEDULE_KEEPER_CONSUMER)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = BatchConsumer(
            self._nc.jetstream(),
            EVENT_STREAM,
            SCHEDULE_KEEPER_CONSUMER,
            self.process,
            ConsumerOptions(batch_size=64),
        )
        async with asyncio.TaskGroup() as loops:  # one failing cancels the other
            loops.create_task(consumer.run(stop))
            loops.create_task(self.placements.run(self.place_due, stop))

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
            self.placements.add(state.id, interval_of(state))
        elif state is not None:
            await self.remove(state.tenant, state.id)
        else:
            tenant = subject.split(".")[2] if subject.count(".") >= 4 else ""
            if tenant:
                await self.remove(tenant, connection_id)

    async def put(self, state: ConnectionState, replacing: int = 0) -> bool:
        """Publish the connection's schedule over the stored one (``put_schedule``)."""
        return await put_schedule(self._nc.jetstream(), state, replacing)

    async def remove(self, tenant: str, connection_id: str) -> None:
        await purge_schedule(self._nc.jetstream(), tenant, connection_id)

    async def remove_unwanted(self, tenant: str, connection_id: str) -> bool:
        """Purge the schedule a firing found no connection for, once the projection
        confirms that ``tenant`` has no live, scheduled connection of that id; returns
        whether it did. A lookup that answered "absent" in error (a cache's fault: issue
        15's 40,000-connection run, docs/decisions.md) then costs one check, not the
        connection's monitoring for good."""
        async with self._engine.connect() as connection:
            state = await load_connection(connection, connection_id)
        if state is not None and state.tenant == tenant and wants_schedule(state):
            log.warning("schedule_kept", connection_id=connection_id, tenant=tenant)
            return False
        await self.remove(tenant, connection_id)
        return True

    async def reconcile(self) -> int:
        """Bring every connection's schedule in step (at start-up); returns how many are on.

        A schedule that already matches is left alone: republishing it would reset
        its timing. The others are published at their connection's second once
        ``run`` starts, not all at once: every replica's start would bunch them.

        The projection is read ``RECONCILE_PAGE`` connections at a time (``load_page``),
        so the keeper's memory does not grow with the fleet (issue 15: RSS bounded at
        any fleet size; the whole of 60,000 at once raised a replica's peak to 264 MB).
        A page's stored schedules are read ``PLACING_AT_ONCE`` at a time: one by one, a
        start at 100,000 connections spent 20 s here before its replica took a check
        (``python -m bench.prober --reconcile-only``; 9 s now)."""
        scheduled = changed = 0
        after = ""
        while page := await self._page_after(after):
            stored = await self._stored_schedules([(state.tenant, state.id) for state in page])
            for state, held in zip(page, stored, strict=True):
                if wants_schedule(state):
                    scheduled += 1
                    if held.every != every_of(state):
                        absent = held.every is None
                        self.placements.add(state.id, interval_of(state), absent=absent)
                        changed += 1
                elif held.every is not None:
                    await self.remove(state.tenant, state.id)
                    changed += 1
            after = page[-1].id
        log.info("schedules_reconciled", scheduled=scheduled, changed=changed)
        return scheduled

    async def _page_after(self, after_id: str) -> list[ConnectionState]:
        async with self._engine.connect() as connection:
            return await load_page(connection, after_id, RECONCILE_PAGE)

    async def place_due(
        self, connection_ids: list[str], absent: Collection[str] = frozenset()
    ) -> None:
        """Publish the schedules of these connections that the projection still wants
        and the stream does not already hold as such (so timing is never reset).

        Each put expects the stored schedule it read (``put``): when another
        replica's keeper placed the same connection meanwhile, the put is refused
        and the connection is placed again from a fresh read, so two keepers never
        publish one schedule twice, and the last put rests on the newest state.
        The first put of a connection in ``absent`` (no schedule stored when the
        ``reconcile`` looked) expects none without reading: at a new fleet's first
        start, a put a connection instead of a read and a put (``placement``)."""
        pending = connection_ids
        for _ in range(PLACING_ROUNDS):
            pending = await self._place(pending, absent)
            if not pending:
                return
            absent = frozenset()  # refused: something is stored now, so read it
        log.warning("schedules_contended", connection_ids=pending)

    async def _place(self, connection_ids: list[str], absent: Collection[str]) -> list[str]:
        """One round of ``place_due``; returns the connections whose put was refused."""
        tenants: dict[str, str] = {}
        if unknown := [cid for cid in connection_ids if cid not in absent]:
            async with self._engine.connect() as connection:
                found = await load_connections(connection, unknown)
            tenants = {cid: state.tenant for cid, state in found.items() if state is not None}
        reads = await self._stored_schedules([(tenant, cid) for cid, tenant in tenants.items()])
        stored = dict(zip(tenants, reads, strict=True))
        # The states are read after the stored schedules: a put expecting one of those
        # can only succeed if no keeper put since, so no newer state was placed already.
        # (A connection without a read expects none stored: refused if one is.)
        async with self._engine.connect() as connection:
            states = await load_connections(connection, list(connection_ids))
        wanted = [state for state in states.values() if state and wants_schedule(state)]
        refused: list[str] = []
        slots = asyncio.Semaphore(PLACING_AT_ONCE)

        async def place(state: ConnectionState) -> None:
            held = stored.get(state.id, NONE_STORED)
            if held.every == every_of(state):
                return
            async with slots:
                try:
                    if not await self.put(state, replacing=held.sequence):
                        refused.append(state.id)
                except Exception:
                    log.exception("schedule_put_failed", connection_id=state.id)

        await asyncio.gather(*(place(state) for state in wanted))
        return refused

    async def _stored_schedules(self, keys: list[tuple[str, str]]) -> list[StoredSchedule]:
        return await read_stored_schedules(self._nc.jetstream(), keys, PLACING_AT_ONCE)
