"""A long alert history for one tenant, appended through the log (a valid chain).

Each connection's stream holds, per round, one ``AlertRaised`` and, except for the
last round of every ``OPEN_EVERY``-th connection, its ``AlertResolved``, with
``noise`` ``HealthStatusChanged`` events between them, as a flapping connection's
log does. The connections themselves are ``harness.seeding``'s rows (written to the
projection, so their streams hold only the alert history).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import seed_connections
from connmgr.schemas.events import AlertRaised, AlertResolved, HealthStatusChanged
from connmgr.storage.alerts import fold_alerts
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent
from connmgr.storage.tables import connections

OPEN_EVERY: Final = 10
"""One connection in this many ends with its alert still open."""
EPOCH: Final = datetime(2026, 1, 1, tzinfo=UTC)


async def seed_alert_history(
    engine: AsyncEngine, tenant: str, connection_count: int, rounds: int, noise: int
) -> int:
    """``connection_count`` connections with ``rounds`` alerts each; returns the alerts."""
    await seed_connections(engine, tenant, connection_count)
    async with engine.connect() as connection:
        owned = select(connections.c.id).where(connections.c.tenant == tenant)
        ids = list(await connection.scalars(owned))
    for round_ in range(rounds):
        last = round_ == rounds - 1
        pending: list[PendingEvent] = []
        for index, stream in enumerate(ids):
            stays_open = last and index % OPEN_EVERY == 0
            pending += _round(tenant, stream, round_, noise, stays_open)
        async with write_transaction(engine) as connection:
            appender = await Appender.begin(connection)
            await fold_alerts(connection, await appender.append(pending))
            await appender.finish()
    return len(ids) * rounds


def _round(
    tenant: str, stream: str, round_: int, noise: int, stays_open: bool
) -> list[PendingEvent]:
    per_round = 2 + noise
    first = round_ * per_round + 1
    raised_at = EPOCH + timedelta(hours=round_)
    alert_id = uuid.uuid4()
    raised = AlertRaised(
        alert_id=alert_id,
        status="down",
        reason="3 consecutive failures",
        outcome="timeout",
        detail="no answer",
        raised_at=raised_at,
    )
    events = [_event(tenant, stream, first, "AlertRaised", raised.model_dump(mode="json"))]
    for step in range(noise):
        change = HealthStatusChanged(
            previous="down",
            status="degraded" if step % 2 == 0 else "down",
            reason="flapping",
            outcome="timeout",
            changed_at=raised_at + timedelta(seconds=step + 1),
        )
        version = first + 1 + step
        events.append(
            _event(tenant, stream, version, "HealthStatusChanged", change.model_dump(mode="json"))
        )
    if not stays_open:
        resolved = AlertResolved(
            alert_id=alert_id, resolved_at=raised_at + timedelta(minutes=5), open_s=300.0
        )
        version = first + 1 + noise
        events.append(
            _event(tenant, stream, version, "AlertResolved", resolved.model_dump(mode="json"))
        )
    return events


def _event(tenant: str, stream: str, version: int, kind: str, data: dict[str, Any]) -> PendingEvent:
    return PendingEvent(stream, version, kind, tenant, data, {"bench": "alerts"})
