"""An alert event as the relay published it, read into what a notification needs.

``read_notice`` accepts the relay's body (``workers.relay.event_messages``) of an
``AlertRaised`` or ``AlertResolved`` event and nothing else: anything else, or a
body that does not validate, is ``None`` (the pool acknowledges it and moves on:
a malformed message is never retried).

Severity: a raised alert's health status decides it (``down`` is ``critical``;
``degraded``, ``flapping`` and ``suspended`` are ``warning``; anything else
``info``). A resolution has no severity of its own: it goes to the channels
that were told about the raise (see ``channels``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from connmgr.schemas.bus.subjects import is_valid_tenant
from connmgr.schemas.events import AlertRaised, AlertResolved
from connmgr.schemas.stored_events import decode_as


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


_STATUS_SEVERITY: Final = {
    "down": Severity.CRITICAL,
    "degraded": Severity.WARNING,
    "flapping": Severity.WARNING,
    "suspended": Severity.WARNING,
}


class _Envelope(BaseModel):
    """The relay's event body; fields the notifier does not use are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: UUID
    type: Literal["AlertRaised", "AlertResolved"]
    tenant: str
    connection_id: UUID
    data: dict[str, Any]
    metadata: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """One alert event. ``at`` is when it was raised or resolved.

    ``connection_name`` and ``connection_kind`` are filled from the projection
    when the connection still exists (see ``channels.describe_connection``).
    """

    event_id: str
    event_type: str
    tenant: str
    connection_id: str
    alert_id: str
    at: datetime
    status: str | None = None
    reason: str | None = None
    outcome: str | None = None
    detail: str | None = None
    open_s: float | None = None
    correlation_id: str | None = None
    connection_name: str | None = None
    connection_kind: str | None = None
    traceparent: str | None = None
    """The notifier's span for this message (``service``): never read from the body."""

    @property
    def raised(self) -> bool:
        return self.event_type == "AlertRaised"

    @property
    def severity(self) -> Severity:
        if not self.raised:
            return Severity.INFO
        return _STATUS_SEVERITY.get(self.status or "", Severity.INFO)

    @property
    def display_name(self) -> str:
        return self.connection_name or self.connection_id


def read_notice(body: bytes) -> AlertNotice | None:
    """The alert event in ``body``, or None when it is not a valid one."""
    try:
        envelope = _Envelope.model_validate_json(body)
        if not is_valid_tenant(envelope.tenant):
            return None
        if envelope.type == "AlertRaised":
            raised = decode_as(AlertRaised, envelope.data)
            return _notice(
                envelope,
                raised.alert_id,
                raised.raised_at,
                status=raised.status,
                reason=raised.reason,
                outcome=raised.outcome,
                detail=raised.detail,
            )
        resolved = decode_as(AlertResolved, envelope.data)
        return _notice(envelope, resolved.alert_id, resolved.resolved_at, open_s=resolved.open_s)
    except (ValidationError, ValueError):
        return None


def _notice(envelope: _Envelope, alert_id: UUID, at: datetime, **details: Any) -> AlertNotice:
    correlation = envelope.metadata.get("correlation_id")
    return AlertNotice(
        event_id=str(envelope.event_id),
        event_type=envelope.type,
        tenant=envelope.tenant,
        connection_id=str(envelope.connection_id),
        alert_id=str(alert_id),
        at=at,
        correlation_id=correlation if isinstance(correlation, str) else None,
        **details,
    )
