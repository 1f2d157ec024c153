"""The relay: publishes every committed event once to ``connmgr.evt.<tenant>.<id>.<type>``.

The log is the outbox. The relay reads events after its checkpoint in position
order, publishes each to JetStream with ``Nats-Msg-Id`` = ``event_id`` (so a
re-publish after a crash is dropped by the stream's duplicate window), and then
moves the checkpoint. Positions commit in order (appends hold the chain head),
so tailing by position never skips an event whose transaction commits late.
Published events carry no secret material: each ``secrets`` object is reduced
to its version and field names. Rejections of messages that named no valid
tenant belong to no tenant and stay in the log only.

On PostgreSQL one replica at a time relays: it holds a session advisory lock;
the others wait to take over. The lock lives exactly as long as its session, so
the leader confirms on that session, before every batch, that it still holds
it, and moves the checkpoint through the same session: once the session is cut
(``pg_terminate_backend``, a network fault, a server restart) the relay steps
down, publishes nothing more, and relays again only after it has taken the lock
anew, on a new session, from whichever replica does not hold it. A batch in
hand at the cut may still be published by the old leader while a new one starts
from the checkpoint: ``Nats-Msg-Id`` makes that re-publish a no-op.
A database or broker outage never ends the relay: it retries with a growing
pause (at most 5 s) and resumes from its checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Final

import structlog
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.bus import MSG_ID_HEADER, RELAY_CHECKPOINT, event_subject
from connmgr.storage.database import is_sqlite, write_transaction
from connmgr.storage.event_log import StoredEvent, read_after
from connmgr.storage.relay_checkpoint import read_checkpoint, save_checkpoint
from connmgr.storage.views import redact_event_data
from connmgr.workers.streams import ensure_streams

log = structlog.get_logger("connmgr.relay")
RELAY_LOCK_KEY: Final = 0x636F6E6E6D677201  # "connmgr" + 1
IDLE_POLL_S: Final = 0.1
LOCK_RETRY_S: Final = 1.0
# pg_locks shows a bigint advisory key as two 32-bit halves (classid, objid), objsubid 1.
LOCK_KEY_PARTS: Final = dict(zip(("high", "low"), divmod(RELAY_LOCK_KEY, 1 << 32), strict=True))
_HOLDERS: Final = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = :high AND objid = :low"
)
LOCK_HOLDERS: Final = text(_HOLDERS)
LOCK_HELD_HERE: Final = text(f"SELECT EXISTS ({_HOLDERS} AND pid = pg_backend_pid())")


def event_message(event: StoredEvent) -> tuple[str, bytes]:
    """Subject and body of an event as other systems receive it."""
    connection_id = str(event.data.get("connection_id") or event.stream_id)
    body = {
        "event_id": event.event_id,
        "position": event.position,
        "stream_id": event.stream_id,
        "connection_id": connection_id,
        "version": event.version,
        "type": event.type,
        "tenant": event.tenant,
        "data": redact_event_data(event.data),
        "metadata": event.metadata,
        "recorded_at": event.recorded_at.isoformat(),
    }
    subject = event_subject(event.tenant, connection_id, event.type)
    return subject, json.dumps(body, separators=(",", ":")).encode()


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
        if is_sqlite(str(self._engine.url)):
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
        async with self._engine.connect() as connection:
            position = await read_checkpoint(connection, RELAY_CHECKPOINT)
            batch = await read_after(connection, position, self._batch_size)
        for event in batch:
            if event.tenant:
                subject, body = event_message(event)
                await self._js.publish(subject, body, headers={MSG_ID_HEADER: event.event_id})
        if batch:
            await self._save_checkpoint(leader, batch[-1].position)
            log.debug("events_relayed", count=len(batch), position=batch[-1].position)
        return len(batch)

    async def _save_checkpoint(self, leader: AsyncConnection | None, position: int) -> None:
        if leader is None:
            async with write_transaction(self._engine) as connection:
                await save_checkpoint(connection, RELAY_CHECKPOINT, position)
            return
        async with leader.begin():
            await save_checkpoint(leader, RELAY_CHECKPOINT, position)


async def lock_holders(connection: AsyncConnection) -> list[int]:
    """The pids of the sessions holding the relay lock in ``connection``'s database."""
    result = await connection.execute(LOCK_HOLDERS, LOCK_KEY_PARTS)
    return [int(pid) for pid in result.scalars()]


async def _pause(stop: asyncio.Event, failures: int) -> None:
    """Idle poll, or a growing pause after failures (at most 5 s); ends early on ``stop``."""
    pause = IDLE_POLL_S if failures == 0 else min(2.0**failures / 4, 5.0)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), pause)


async def _wait_for_lock(leader: AsyncConnection, stop: asyncio.Event) -> bool:
    """Take the relay lock on ``leader``, trying every second; False if stopped first."""
    while not await _try_lock(leader):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LOCK_RETRY_S)
        if stop.is_set():
            return False
    return True


async def _try_lock(connection: AsyncConnection) -> bool:
    async with connection.begin():
        result: Any = await connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": RELAY_LOCK_KEY}
        )
        return bool(result.scalar_one())


async def _confirm_lock(leader: AsyncConnection) -> None:
    """Raise unless ``leader``'s session is alive and still holds the relay lock."""
    async with leader.begin():
        result: Any = await leader.execute(LOCK_HELD_HERE, LOCK_KEY_PARTS)
        held = bool(result.scalar_one())
    if not held:
        raise LeadershipLost("the relay lock is no longer held by this session")


async def _unlock(leader: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        async with leader.begin():
            await leader.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RELAY_LOCK_KEY})
