"""The relay: publishes every committed event once to ``connmgr.evt.<tenant>.<id>.<type>``.

The log is the outbox. The relay reads events after its checkpoint in position
order, publishes each to JetStream with ``Nats-Msg-Id`` = ``event_id`` (so a
re-publish after a crash is dropped by the stream's duplicate window), and then
moves the checkpoint. Positions commit in order (appends hold the chain head),
so tailing by position never skips an event whose transaction commits late.
Published events carry no secret material: each ``secrets`` object is reduced
to its version and field names (``event_messages``). Rejections of messages
that named no valid tenant belong to no tenant and stay in the log only.

Where replicas share the database (PostgreSQL) one at a time relays: it holds
the relay's leader lock (``storage/leader_lock.py``); the others wait to take
over. The lock lives exactly as long as its session, so the leader confirms on
that session, before every batch, that it still holds it, and moves the
checkpoint through the same session: once the session is cut
(``pg_terminate_backend``, a network fault, a server restart) the relay steps
down, publishes nothing more, and relays again only after it has taken the lock
anew, on a new session, from whichever replica does not hold it. A batch in
hand at the cut may still be published by the old leader while a new one starts
from the checkpoint: ``Nats-Msg-Id`` makes that re-publish a no-op.
A database or broker outage never ends the relay: it retries with a growing
jittered pause (``connmgr.backoff``: 0.5 s doubling to 5 s, each down to half),
and resumes from its checkpoint.

Each event read ends in one ``message_handled`` line (``message_context``), once
the checkpoint has moved past it: ``published``, or ``kept`` for a rejection
that belongs to no tenant (log only); its ``duration_ms`` runs from the read of
its batch to that checkpoint.

Each publish is a ``relay publish`` span, child of the span that appended the
event (its metadata's ``traceparent``), and the published message carries that
span's ``traceparent`` header (``connmgr.tracing``; the metadata's own value
unchanged when no tracer provider is installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Final

import structlog
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.backoff import Backoff, pause
from connmgr.schemas.bus.consumers import RELAY_CHECKPOINT
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import StoredEvent, read_after
from connmgr.storage.leader_lock import RELAY_LOCK, leader_lock_needed
from connmgr.storage.relay_checkpoint import read_checkpoint, save_checkpoint
from connmgr.tracing.spans import hop, put_traceparent
from connmgr.tracing.traceparent import valid_traceparent
from connmgr.workers.message_context import bound, event_fields, log_handled
from connmgr.workers.metrics import record_relay_publish
from connmgr.workers.relay.event_messages import event_message
from connmgr.workers.streams import ensure_streams

log = structlog.get_logger("connmgr.relay")
IDLE_POLL_S: Final = 0.1
LOCK_RETRY_S: Final = 1.0
FAILURE_BACKOFF: Final = Backoff(first_s=0.5, max_s=5.0)


class LeadershipLost(Exception):
    """The session that took the relay lock no longer holds it."""


class Relay:
    def __init__(self, js: JetStreamContext, engine: AsyncEngine, batch_size: int) -> None:
        self._js = js
        self._engine = engine
        self._batch_size = batch_size

    async def start(self) -> None:
        await ensure_streams(self._js)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop``; on PostgreSQL only while holding the relay lock."""
        if not leader_lock_needed(self._engine):
            await self._lead(None, stop)
            return
        failures = 0
        while not stop.is_set():
            try:
                async with self._engine.connect() as leader:
                    if await _wait_for_lock(leader, stop):
                        failures = 0
                        log.info("relay_leading")
                        await self._lead(leader, stop)
                        await _unlock(leader)
            except Exception:
                failures += 1
                log.warning("relay_stepped_down", attempt=failures, exc_info=True)
                await _pause(stop, failures)

    async def _lead(self, leader: AsyncConnection | None, stop: asyncio.Event) -> None:
        """Relay batches until ``stop``; raises once ``leader`` has lost the lock."""
        failures = 0
        while not stop.is_set():
            if leader is not None:
                await _confirm_lock(leader)
            try:
                relayed = await self.relay_once(leader)
                failures = 0
            except Exception:
                failures += 1
                log.warning("relay_failed", attempt=failures, exc_info=True)
                relayed = 0
            if relayed == 0:
                await _pause(stop, failures)

    async def relay_once(self, leader: AsyncConnection | None = None) -> int:
        """Publish the next batch after the checkpoint; returns how many events it read.

        With ``leader`` (the session holding the relay lock) the checkpoint moves
        through that session, so a relay whose session was cut cannot move it."""
        started = time.perf_counter()
        async with self._engine.connect() as connection:
            position = await read_checkpoint(connection, RELAY_CHECKPOINT)
            batch = await read_after(connection, position, self._batch_size)
        for event in batch:
            if event.tenant:
                with bound(**event_fields(event)):
                    publishing = time.perf_counter()
                    await self._publish(event)
                    record_relay_publish(time.perf_counter() - publishing)
        if batch:
            await self._save_checkpoint(leader, batch[-1].position)
            log.debug("events_relayed", count=len(batch), position=batch[-1].position)
            _log_handled(batch, started)
        return len(batch)

    async def _publish(self, event: StoredEvent) -> None:
        """Publish ``event`` in a span child of the one that appended it (its metadata's
        ``traceparent``, checked again), carrying that span's ``traceparent``."""
        subject, body = event_message(event)
        parent = valid_traceparent(event.metadata.get("traceparent"))
        attributes = {"messaging.system": "nats", "connmgr.event_type": event.type}
        with hop("relay publish", parent, SpanKind.PRODUCER, attributes) as traceparent:
            headers = put_traceparent({MSG_ID_HEADER: event.event_id}, traceparent)
            await self._js.publish(subject, body, headers=headers)

    async def _save_checkpoint(self, leader: AsyncConnection | None, position: int) -> None:
        if leader is None:
            async with write_transaction(self._engine) as connection:
                await save_checkpoint(connection, RELAY_CHECKPOINT, position)
            return
        async with leader.begin():
            await save_checkpoint(leader, RELAY_CHECKPOINT, position)


def _log_handled(batch: list[StoredEvent], started: float) -> None:
    for event in batch:
        with bound(**event_fields(event)):
            log_handled(log, started, "published" if event.tenant else "kept")


async def _pause(stop: asyncio.Event, failures: int) -> None:
    """Idle poll, or a jittered pause growing with failures (at most 5 s); ends on ``stop``."""
    await pause(stop, IDLE_POLL_S if failures == 0 else FAILURE_BACKOFF.delay_s(failures))


async def _wait_for_lock(leader: AsyncConnection, stop: asyncio.Event) -> bool:
    """Take the relay lock on ``leader``, trying every second; False if stopped first."""
    while not await RELAY_LOCK.take(leader):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LOCK_RETRY_S)
        if stop.is_set():
            return False
    return True


async def _confirm_lock(leader: AsyncConnection) -> None:
    """Raise unless ``leader``'s session is alive and still holds the relay lock."""
    if not await RELAY_LOCK.held_here(leader):
        raise LeadershipLost("the relay lock is no longer held by this session")


async def _unlock(leader: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await RELAY_LOCK.release(leader)
