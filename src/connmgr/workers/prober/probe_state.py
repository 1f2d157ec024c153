"""The state machine's data: the persisted ``ProbeState``, an ``Observation`` in, the
``Context`` it is judged in, and the ``Transition`` out (see ``state_machine``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from connmgr.schemas.events import AlertRaised, AlertResolved, HealthStatusChanged, ProbeSuspended
from connmgr.schemas.health import HealthCheckSettings, HealthStatus
from connmgr.workers.prober import flapping

ProbeEvent = HealthStatusChanged | AlertRaised | AlertResolved | ProbeSuspended
Events = list[ProbeEvent]
NewAlertId = Callable[[], UUID]


@dataclass(frozen=True, slots=True)
class ProbeState:
    """One connection's machine state: the ``probe_state`` row."""

    connection_id: str
    tenant: str
    status: HealthStatus = HealthStatus.UNKNOWN
    status_since: datetime | None = None
    last_check_at: datetime | None = None
    last_latency_ms: float | None = None  # of the check at last_check_at: /metrics' gauge
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    consecutive_auth_failures: int = 0
    recent: str = ""
    open_alert_id: UUID | None = None
    alert_raised_at: datetime | None = None
    suspended: bool = False

    @classmethod
    def initial(cls, connection_id: str, tenant: str) -> ProbeState:
        return cls(connection_id=connection_id, tenant=tenant)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ProbeState:
        """Read a ``probe_state`` row; columns the machine does not use are ignored."""
        values = {f.name: row[f.name] for f in fields(cls)}
        alert = values["open_alert_id"]
        values["open_alert_id"] = None if alert is None else UUID(str(alert))
        return cls(**values | {"status": HealthStatus(values["status"])})

    def to_row(self, *, updated_at: datetime | None = None) -> dict[str, Any]:
        """The ``probe_state`` row; ``updated_at`` defaults to ``last_check_at``."""
        stamp = updated_at or self.last_check_at
        if stamp is None:
            raise ValueError("a state never checked needs an explicit updated_at")
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        alert = None if self.open_alert_id is None else str(self.open_alert_id)
        return row | {"status": self.status.value, "open_alert_id": alert, "updated_at": stamp}


@dataclass(frozen=True, slots=True)
class Observation:
    """One check result; ``detail`` (the check's fixed sentence) goes into an alert."""

    outcome: str
    latency_ms: float
    checked_at: datetime
    manual: bool = False
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.checked_at.tzinfo is None:
            raise ValueError("checked_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Context:
    """What the step needs besides the state: settings and the dependencies' status."""

    settings: HealthCheckSettings
    dependencies_down: bool
    flap_threshold: float = 0.5
    window: int = 20

    def __post_init__(self) -> None:
        if not 0 < self.flap_threshold <= 1:
            raise ValueError("flap_threshold must be in (0, 1]")
        if not flapping.MIN_SAMPLES <= self.window <= flapping.MAX_WINDOW:
            raise ValueError(f"window must be {flapping.MIN_SAMPLES}..{flapping.MAX_WINDOW}")


@dataclass(frozen=True, slots=True)
class Transition:
    state: ProbeState
    events: Events = field(default_factory=list)
    sampled: bool = True
