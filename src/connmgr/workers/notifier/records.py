"""The delivery record: one ``notification_deliveries`` row per (alert event, channel).

The row is the exactly-once guarantee: a channel whose row is ``delivered`` or
``failed`` is never sent that event again, whatever redelivers it. ``pending``
rows count the attempts made so far across redeliveries. A delivery that
becomes final appends one audit event in the same transaction:
``NotificationSent`` or ``NotificationFailed``, in a stream of its own (version
1 of ``own_stream(NOTIFICATION_NAMESPACE, delivery_id(...))``), so the log's
unique (stream, version) also refuses a second one. The row is read under a
row lock before it is written; when another replica finished the delivery
meanwhile, its verdict stands and nothing is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.events import NotificationFailed, NotificationSent
from connmgr.schemas.stored_events import EventMetadata
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent
from connmgr.storage.tables import notification_deliveries
from connmgr.workers.command_records import own_stream
from connmgr.workers.notifier.channels import Channel
from connmgr.workers.notifier.delivery import Tried
from connmgr.workers.notifier.notices import AlertNotice

NOTIFICATION_NAMESPACE: Final = uuid.UUID("8d1c4e7a-3b52-4f09-a6d8-71e2c9b05f34")
NOTIFIER_ACTOR: Final = "notifier"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
FINAL: Final = frozenset({DELIVERED, FAILED})


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    status: str
    attempts: int

    @property
    def final(self) -> bool:
        return self.status in FINAL


def delivery_id(event_id: str, channel_id: str) -> uuid.UUID:
    return uuid.uuid5(NOTIFICATION_NAMESPACE, f"{event_id}/{channel_id}")


async def records_of(connection: AsyncConnection, event_id: str) -> dict[str, DeliveryRecord]:
    """The event's delivery records by channel id."""
    d = notification_deliveries.c
    rows = await connection.execute(
        select(d.channel_id, d.status, d.attempts).where(d.event_id == event_id)
    )
    return {row.channel_id: DeliveryRecord(row.status, row.attempts) for row in rows}


async def channels_told(connection: AsyncConnection, notice: AlertNotice) -> set[str]:
    """Channels another event of the same alert (its raise) was delivered to."""
    d = notification_deliveries.c
    rows = await connection.execute(
        select(d.channel_id).where(
            d.alert_id == notice.alert_id, d.status == DELIVERED, d.event_id != notice.event_id
        )
    )
    return {row.channel_id for row in rows}


def settle(tried: Tried, attempts: int, *, max_attempts: int, last_chance: bool) -> str:
    """The status after ``tried``, ``attempts`` being the total so far, this one's included."""
    if tried.last.delivered:
        return DELIVERED
    if tried.last.permanent or last_chance or attempts >= max_attempts:
        return FAILED
    return PENDING


async def record_delivery(
    engine: AsyncEngine,
    notice: AlertNotice,
    channel: Channel,
    tried: Tried,
    *,
    max_attempts: int,
    last_chance: bool,
) -> DeliveryRecord:
    """Add ``tried`` to the record; returns the record as stored (final ones unchanged)."""
    async with write_transaction(engine) as connection:
        previous = await _locked_record(connection, notice.event_id, channel.id)
        if previous is not None and previous.final:
            return previous
        attempts = (previous.attempts if previous else 0) + tried.attempts
        status = settle(tried, attempts, max_attempts=max_attempts, last_chance=last_chance)
        record = DeliveryRecord(status, attempts)
        await _save(connection, notice, channel.id, record, tried, new=previous is None)
        if record.final:
            appender = await Appender.begin(connection)
            await appender.append([audit_event(notice, channel, tried, record)])
            await appender.finish()
    return record


async def _locked_record(
    connection: AsyncConnection, event_id: str, channel_id: str
) -> DeliveryRecord | None:
    d = notification_deliveries.c
    query = select(d.status, d.attempts).where(d.event_id == event_id, d.channel_id == channel_id)
    row = (await connection.execute(query.with_for_update())).one_or_none()
    return None if row is None else DeliveryRecord(row.status, row.attempts)


async def _save(
    connection: AsyncConnection,
    notice: AlertNotice,
    channel_id: str,
    record: DeliveryRecord,
    tried: Tried,
    *,
    new: bool,
) -> None:
    now = datetime.now(UTC)
    values = {
        "status": record.status,
        "attempts": record.attempts,
        "last_error_code": tried.last.code,
        "delivered_at": now if record.status == DELIVERED else None,
        "updated_at": now,
    }
    table, d = notification_deliveries, notification_deliveries.c
    if new:
        identity = {"event_id": notice.event_id, "channel_id": channel_id}
        owner = {"alert_id": notice.alert_id, "tenant": notice.tenant}
        await connection.execute(insert(table).values(identity | owner | values))
        return
    key = (d.event_id == notice.event_id) & (d.channel_id == channel_id)
    await connection.execute(update(table).where(key).values(values))


def audit_event(
    notice: AlertNotice, channel: Channel, tried: Tried, record: DeliveryRecord
) -> PendingEvent:
    """``NotificationSent`` or ``NotificationFailed``, version 1 of the delivery's own stream."""
    data = _audit_data(notice, channel, tried, record)
    metadata = EventMetadata(
        command_id=None,
        actor_id=NOTIFIER_ACTOR,
        tenant=notice.tenant,
        correlation_id=notice.correlation_id,
        causation_id=notice.event_id,
        traceparent=notice.traceparent,  # the ``notifier process`` span's: the alert's trace
    )
    stream = own_stream(NOTIFICATION_NAMESPACE, delivery_id(notice.event_id, channel.id))
    return PendingEvent(
        stream_id=stream,
        version=1,
        type=type(data).__name__,
        tenant=notice.tenant,
        data=data.model_dump(mode="json"),
        metadata=metadata.model_dump(mode="json"),
    )


def _audit_data(
    notice: AlertNotice, channel: Channel, tried: Tried, record: DeliveryRecord
) -> NotificationSent | NotificationFailed:
    now = datetime.now(UTC)
    common = {
        "alert_event_id": uuid.UUID(notice.event_id),
        "alert_id": uuid.UUID(notice.alert_id),
        "alert_type": notice.event_type,
        "connection_id": uuid.UUID(notice.connection_id),
        "channel_id": uuid.UUID(channel.id),
        "channel_format": channel.format.value,
        "attempts": record.attempts,
    }
    if record.status == DELIVERED:
        return NotificationSent(**common, status_code=tried.last.status, sent_at=now)
    return NotificationFailed(**common, reason=tried.last.code or "unknown", failed_at=now)
