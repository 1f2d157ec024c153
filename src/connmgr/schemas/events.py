"""Events: facts in the past tense, the log that is also the audit trail.

Each event's ``data`` is a frozen, versioned pydantic model. Events carry
ciphertext, never plaintext secrets. ``EVENT_TYPES`` maps the stored ``type``
name to its model, built from the one declaration of ``EventData``.
``schemas.stored_events`` holds the metadata stored beside an event's data and
reads a stored document back, upcasting an older ``schema_version`` first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal, TypeVar, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from connmgr.schemas.check_results import TestResult
from connmgr.schemas.health import HealthCheckSettings
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import FieldError, ReasonCode


class _EventData(BaseModel):
    """Each model's ``schema_version`` default is its version today; a change to a
    model steps it and adds an upcaster from the old version (``schemas.upcasting``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = 1


E = TypeVar("E", bound=_EventData)


class EncryptedSecrets(BaseModel):
    """Secrets sealed under the connection's data key (AES-256-GCM).

    Associated data is ``connmgr/secrets/<connection_id>/<secrets_version>``, so a
    ciphertext cannot be replayed onto another connection or an older version.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    secrets_version: int
    field_names: list[str]
    nonce: str
    ciphertext: str
    algorithm: Literal["AES-256-GCM"] = "AES-256-GCM"


class ConnectionCreated(_EventData):
    """Version 2 added ``notify`` (version 1 kept recipients in ``description``)."""

    schema_version: int = 2
    name: str
    kind: Kind
    template: str | None
    config: dict[str, Any]
    auth: dict[str, Any]
    secrets: EncryptedSecrets | None
    health_check: HealthCheckSettings
    tags: list[str]
    description: str
    notify: dict[str, Any] | None = None


class ConnectionUpdated(_EventData):
    """The fields that changed, with their new values; absent fields did not change.
    Version 2 added ``notify`` (version 1 kept recipients in ``description``)."""

    schema_version: int = 2

    changed: list[str]
    name: str | None = None
    kind: Kind | None = None
    config: dict[str, Any] | None = None
    auth: dict[str, Any] | None = None
    secrets: EncryptedSecrets | None = None
    health_check: HealthCheckSettings | None = None
    tags: list[str] | None = None
    description: str | None = None
    notify: dict[str, Any] | None = None


class SecretsRotated(_EventData):
    secrets: EncryptedSecrets


class ConnectionDeleted(_EventData):
    reason: str = ""
    data_key_destroyed: bool = True


class ConnectionTested(_EventData):
    """A test ran. For a draft, ``draft`` holds the tested configuration (no secrets)
    and the event lives in a stream of its own, never the connection's."""

    result: TestResult
    tested_version: int | None = None
    secrets_version: int | None = None
    draft: dict[str, Any] | None = None
    connection_id: UUID | None = None


class HealthStatusChanged(_EventData):
    previous: str
    status: str
    reason: str
    outcome: str | None = None
    changed_at: datetime


class AlertRaised(_EventData):
    alert_id: UUID
    status: str
    reason: str
    outcome: str | None = None
    detail: str | None = None
    raised_at: datetime


class AlertResolved(_EventData):
    alert_id: UUID
    resolved_at: datetime
    open_s: float


class ProbeSuspended(_EventData):
    reason: str
    consecutive: int
    suspended_at: datetime


class CommandRejected(_EventData):
    """A command that changed nothing, and why. Recorded in a stream of its own."""

    command_id: UUID | None
    connection_id: UUID | None
    command_type: str | None
    reason: ReasonCode
    message: str
    errors: list[FieldError] = []


# --- notifications (issue 4, item 5) ---------------------------------------------
# One audit event per (alert event, channel), in a stream of its own (like a
# rejection): ``connection_id`` is the connection the alert is about, so the
# relay publishes it under that connection's subject.


class NotificationSent(_EventData):
    """An alert event reached a notification channel (a 2xx answer, or mail accepted)."""

    alert_event_id: UUID
    alert_id: UUID
    alert_type: str
    connection_id: UUID
    channel_id: UUID
    channel_format: str
    attempts: int
    status_code: int | None = None
    sent_at: datetime


class NotificationFailed(_EventData):
    """A delivery given up: ``reason`` is a stable code (``http_503``, ``timeout``, …)."""

    alert_event_id: UUID
    alert_id: UUID
    alert_type: str
    connection_id: UUID
    channel_id: UUID
    channel_format: str
    attempts: int
    reason: str
    failed_at: datetime


EventData = (
    ConnectionCreated
    | ConnectionUpdated
    | SecretsRotated
    | ConnectionDeleted
    | ConnectionTested
    | HealthStatusChanged
    | AlertRaised
    | AlertResolved
    | ProbeSuspended
    | CommandRejected
    | NotificationSent
    | NotificationFailed
)
"""Every event type, declared once: ``EVENT_TYPES`` and the stored type names derive from it."""

EVENT_TYPES: Final[Mapping[str, type[EventData]]] = MappingProxyType(
    {model.__name__: model for model in get_args(EventData)}
)
"""The stored ``type`` name of each event model (its class name), read-only."""


def event_type_of(data: EventData) -> str:
    return type(data).__name__
