"""``HealthEvents``: builds status-change and alert events for the health read side."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from connmgr.schemas.events import AlertRaised, AlertResolved, HealthStatusChanged
from connmgr.storage.alerts import fold_alerts
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import stored_event
from connmgr.storage.tables import events
from support.seeds import Seed


@dataclass
class HealthEvents:
    """Status-change and alert events of a connection's stream, versions counted per stream."""

    seed: Seed
    versions: Counter[str] = field(default_factory=Counter)

    async def changed(
        self, connection_id: str, previous: str, status: str, at: datetime, *, tenant: str = "acme"
    ) -> None:
        data = HealthStatusChanged(
            previous=previous, status=status, reason=f"now {status}", outcome="ok", changed_at=at
        )
        await self._append(
            connection_id, "HealthStatusChanged", data.model_dump(mode="json"), tenant
        )

    async def raised(self, connection_id: str, at: datetime, *, tenant: str = "acme") -> str:
        """An ``AlertRaised``; returns its alert id."""
        alert_id = uuid.uuid4()
        data = AlertRaised(
            alert_id=alert_id,
            status="down",
            reason="3 consecutive failures",
            outcome="timeout",
            detail="no answer",
            raised_at=at,
        )
        await self._append(connection_id, "AlertRaised", data.model_dump(mode="json"), tenant)
        return str(alert_id)

    async def resolved(
        self, connection_id: str, alert_id: str, raised_at: datetime, at: datetime,
        *, tenant: str = "acme",
    ) -> None:  # fmt: skip
        open_s = (at - raised_at).total_seconds()
        data = AlertResolved(alert_id=uuid.UUID(alert_id), resolved_at=at, open_s=open_s)
        await self._append(connection_id, "AlertResolved", data.model_dump(mode="json"), tenant)

    async def _append(self, stream: str, kind: str, data: dict[str, object], tenant: str) -> None:
        """The event, and its fold into ``alerts``, as the prober's flush does."""
        self.versions[stream] += 1
        position = await self.seed.event(
            stream, self.versions[stream], kind, dict(data), tenant=tenant
        )
        async with write_transaction(self.seed.engine) as connection:
            row = (
                await connection.execute(select(events).where(events.c.position == position))
            ).one()
            await fold_alerts(connection, [stored_event(row)])
