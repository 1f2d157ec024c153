"""Events: facts in the past tense, the log that is also the audit trail.

Each event's ``data`` is a frozen, versioned pydantic model. Events carry
ciphertext, never plaintext secrets. ``EVENT_TYPES`` maps the stored ``type``
name to its model; ``decode_event_data`` reads a stored document back,
upcasting older ``schema_version``s when a model changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from connmgr.schemas.health import HealthCheckSettings
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import FieldError


class _EventData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = 1


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
    name: str
    kind: Kind
    template: str | None
    config: dict[str, Any]
    auth: dict[str, Any]
    secrets: EncryptedSecrets | None
    health_check: HealthCheckSettings
    tags: list[str]
    description: str


class ConnectionUpdated(_EventData):
    """The fields that changed, with their new values; absent fields did not change."""

    changed: list[str]
    name: str | None = None
    kind: Kind | None = None
    config: dict[str, Any] | None = None
    auth: dict[str, Any] | None = None
    secrets: EncryptedSecrets | None = None
    health_check: HealthCheckSettings | None = None
    tags: list[str] | None = None
    description: str | None = None


class SecretsRotated(_EventData):
    secrets: EncryptedSecrets


class ConnectionDeleted(_EventData):
    reason: str = ""
    data_key_destroyed: bool = True


class ServerIdentityData(BaseModel):
    """What a check learned of the server, in fixed forms only (never server text):
    ``version`` a version number or a product from a fixed list (``nginx/1.25.3``),
    ``tls_subject`` the configured name the certificate was verified for,
    ``tls_issuer`` ``sha256:`` + the digest of the issuer's DER name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str | None = None
    tls_subject: str | None = None
    tls_issuer: str | None = None
    tls_not_after: datetime | None = None


class TestResult(BaseModel):
    """What a test or check found: a fixed sentence, never a driver message or secret."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: str
    detail: str
    latency_ms: float
    phases: dict[str, float] = {}
    server: ServerIdentityData | None = None
    tested_at: datetime


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
    reason: str
    message: str
    errors: list[FieldError] = []


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
)

EVENT_TYPES: Final[dict[str, type[_EventData]]] = {
    "ConnectionCreated": ConnectionCreated,
    "ConnectionUpdated": ConnectionUpdated,
    "SecretsRotated": SecretsRotated,
    "ConnectionDeleted": ConnectionDeleted,
    "ConnectionTested": ConnectionTested,
    "HealthStatusChanged": HealthStatusChanged,
    "AlertRaised": AlertRaised,
    "AlertResolved": AlertResolved,
    "ProbeSuspended": ProbeSuspended,
    "CommandRejected": CommandRejected,
}


def event_type_of(data: _EventData) -> str:
    return type(data).__name__


def decode_event_data(event_type: str, document: dict[str, Any]) -> _EventData:
    """Read a stored event document back into its model (upcasters go here)."""
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise KeyError(f"unknown event type {event_type!r}")
    return model.model_validate(document)


class EventMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: UUID | None
    actor_id: str | None
    tenant: str
    correlation_id: str | None = None
    causation_id: str | None = None


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


EVENT_TYPES["NotificationSent"] = NotificationSent
EVENT_TYPES["NotificationFailed"] = NotificationFailed
