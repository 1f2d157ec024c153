"""The health-check settings a connection carries."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from connmgr.schemas.fields import STRICT_MODEL


class HealthCheckSettings(BaseModel):
    """A connection's health check: on by default, every 60 s, so a saved connection
    gets a status instead of staying ``unknown`` (docs/decisions.md, "Health checks
    are on by default (issue 14 §4)"); ``enabled: false`` turns it off."""

    model_config = STRICT_MODEL

    enabled: bool = True
    interval_s: Annotated[int, Field(ge=10, le=86400)] = 60
    timeout_s: Annotated[int, Field(ge=1, le=60)] = 5
    failure_threshold: Annotated[int, Field(ge=1, le=100)] = 3
    recovery_threshold: Annotated[int, Field(ge=1, le=100)] = 2
    latency_slo_ms: Annotated[int, Field(ge=1, le=600_000)] | None = None
    depends_on: list[UUID] = Field(default_factory=list, max_length=16)
    auth_failure_limit: Annotated[int, Field(ge=1, le=100)] = 3


class HealthStatus(StrEnum):
    """``suspended``: probing paused after repeated ``auth_failed`` (no lockout storms)."""

    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"
    FLAPPING = "flapping"
    SUSPENDED = "suspended"
