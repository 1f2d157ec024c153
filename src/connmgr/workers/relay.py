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
the others wait to take over. A database or broker outage never ends the relay:
it retries with a growing pause (at most 5 s) and resumes from its checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
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


class Relay:
    def __init__(self, js: JetStreamContext, engine: AsyncEngine, batch_size: int) -> None:
        self._js = js
        self._engine = engine
        self._batch_size = batch_size

    async def start(self) -> None:
        await ensure_streams(self._js)

    async def run(self, stop: asyncio.Event) -> None:
        async with self._leadership(stop) as leading:
            if not leading:
                return
            failures = 0
            while not stop.is_set():
                try:
                    relayed = await self.relay_once()
                    failures = 0
                except Exception:
                    failures += 1
                    log.warning("relay_failed", attempt=failures, exc_info=True)
                    relayed = 0
                if relayed == 0:
                    pause = IDLE_POLL_S if failures == 0 else min(2.0**failures / 4, 5.0)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)

    async def relay_once(self) -> int:
        """Publish the next batch after the checkpoint; returns how many events it read."""
        async with self._engine.connect() as connection:
            position = await read_checkpoint(connection, RELAY_CHECKPOINT)
            batch = await read_after(connection, position, self._batch_size)
        for event in batch:
            if event.tenant:
                subject, body = event_message(event)
                await self._js.publish(subject, body, headers={MSG_ID_HEADER: event.event_id})
        if batch:
            async with write_transaction(self._engine) as connection:
                await save_checkpoint(connection, RELAY_CHECKPOINT, batch[-1].position)
            log.debug("events_relayed", count=len(batch), position=batch[-1].position)
        return len(batch)

    @contextlib.asynccontextmanager
    async def _leadership(self, stop: asyncio.Event) -> AsyncIterator[bool]:
        if is_sqlite(str(self._engine.url)):
            yield True
            return
        async with self._engine.connect() as holder:
            while not await _try_lock(holder):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                if stop.is_set():
                    yield False
                    return
            try:
                yield True
            finally:
                with contextlib.suppress(Exception):
                    await holder.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": RELAY_LOCK_KEY}
                    )


async def _try_lock(connection: AsyncConnection) -> bool:
    result: Any = await connection.execute(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": RELAY_LOCK_KEY}
    )
    locked = bool(result.scalar_one())
    await connection.commit()
    return locked
