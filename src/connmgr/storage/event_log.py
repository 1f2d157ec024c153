"""The append-only, hash-chained event log.

Appends are serialised by one global chain: an appender locks the ``chain_head``
row (``SELECT … FOR UPDATE`` on PostgreSQL, the write lock on SQLite) for the
whole transaction and assigns positions itself. So positions become visible in
commit order and a reader tailing by position never skips a late commit; the
cost is one writer at a time, which batching (one transaction per fetched batch
of commands) amortises.

``hash`` = SHA-256(previous hash ‖ canonical JSON of the event), so editing,
deleting or truncating any row breaks the chain (see ``audit``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.bulk_insert import insert_rows
from connmgr.storage.tables import chain_head, events

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event about to be appended to ``stream_id`` at ``version``."""

    stream_id: str
    version: int
    type: str
    tenant: str
    data: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int
    event_id: str
    stream_id: str
    version: int
    type: str
    tenant: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    position: int
    hash: str


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; every stored moment is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical_form(event: StoredEvent) -> bytes:
    document = {
        "position": event.position,
        "event_id": event.event_id,
        "stream_id": event.stream_id,
        "version": event.version,
        "type": event.type,
        "tenant": event.tenant,
        "data": event.data,
        "metadata": event.metadata,
        "recorded_at": as_utc(event.recorded_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def chain_hash(previous_hash: str, event: StoredEvent) -> str:
    return hashlib.sha256(previous_hash.encode() + canonical_form(event)).hexdigest()


class Appender:
    """Appends events within one transaction that holds the chain head.

    ``mark``/``rewind`` let a caller undo the appends made inside a savepoint
    that it rolled back, keeping the in-memory head in step with the database.
    """

    def __init__(self, connection: AsyncConnection, head: ChainHead) -> None:
        self._connection = connection
        self._head = head
        self._start = head

    @classmethod
    async def begin(cls, connection: AsyncConnection) -> Appender:
        row = (
            await connection.execute(
                select(chain_head.c.position, chain_head.c.hash)
                .where(chain_head.c.id == 1)
                .with_for_update()
            )
        ).one()
        return cls(connection, ChainHead(position=row.position, hash=row.hash))

    @property
    def head(self) -> ChainHead:
        return self._head

    def mark(self) -> ChainHead:
        return self._head

    def rewind(self, mark: ChainHead) -> None:
        self._head = mark

    async def append(
        self, pending: list[PendingEvent], recorded_at: datetime | None = None
    ) -> list[StoredEvent]:
        """Insert events after the head; a duplicate (stream, version) raises IntegrityError.

        ``recorded_at`` (default: now) lets a caller that folded the events before
        appending them know the exact time the log will hold. It is stored in UTC:
        SQLite keeps no offset, so a moment in another zone would read back as
        another moment and no longer match its hash."""
        stored: list[StoredEvent] = []
        head = self._head
        now = as_utc(recorded_at) if recorded_at is not None else datetime.now(UTC)
        for item in pending:
            draft = StoredEvent(
                position=head.position + 1,
                event_id=str(uuid.uuid4()),
                stream_id=item.stream_id,
                version=item.version,
                type=item.type,
                tenant=item.tenant,
                data=item.data,
                metadata=item.metadata,
                recorded_at=now,
                hash="",
            )
            event = replace(draft, hash=chain_hash(head.hash, draft))
            stored.append(event)
            head = ChainHead(position=event.position, hash=event.hash)
        if stored:
            await insert_rows(self._connection, events, [_row(e) for e in stored])
        self._head = head
        return stored

    async def finish(self) -> None:
        """Write the head back; call once, before the transaction commits."""
        if self._head != self._start:
            await self._connection.execute(
                update(chain_head)
                .where(chain_head.c.id == 1)
                .values(position=self._head.position, hash=self._head.hash)
            )
            self._start = self._head


def _row(event: StoredEvent) -> dict[str, Any]:
    return {
        "position": event.position,
        "event_id": event.event_id,
        "stream_id": event.stream_id,
        "version": event.version,
        "type": event.type,
        "tenant": event.tenant,
        "data": event.data,
        "metadata": event.metadata,
        "recorded_at": event.recorded_at,
        "hash": event.hash,
    }


def stored_event(row: Any) -> StoredEvent:
    values = dict(row._mapping)
    values["recorded_at"] = as_utc(values["recorded_at"])
    return StoredEvent(**values)


async def read_after(connection: AsyncConnection, position: int, limit: int) -> list[StoredEvent]:
    """Events after ``position`` in log order."""
    rows = await connection.execute(
        select(events).where(events.c.position > position).order_by(events.c.position).limit(limit)
    )
    return [stored_event(row) for row in rows]
