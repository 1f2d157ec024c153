"""The health-check settings a connection carries."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from connmgr.schemas.fields import STRICT_MODEL


class HealthCheckSettings(BaseModel):
    model_config = STRICT_MODEL

    enabled: bool = False
    interval_s: Annotated[int, Field(ge=10, le=86400)] = 60
    timeout_s: Annotated[int, Field(ge=1, le=60)] = 5
    failure_threshold: Annotated[int, Field(ge=1, le=100)] = 3
    recovery_threshold: Annotated[int, Field(ge=1, le=100)] = 2
