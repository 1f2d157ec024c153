"""A declared connection's health check: the settings a command carries, but ``depends_on``.

A file names connections, never ids, so it gives a connection's dependencies by name,
at the connection level (``DeclaredConnection.depends_on``); ``plan`` resolves them to
ids and ``settings`` makes the command's ``HealthCheckSettings``. ``enabled`` stays
off by default, unlike the command's: files already written omit the default, so
changing it would change their meaning (``docs/decisions.md``, "A file's health
checks are off by default").
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from connmgr.schemas.health import HealthCheckSettings


class DeclaredHealthCheck(BaseModel):
    """``HealthCheckSettings`` but ``depends_on``, which a file gives by name. Its
    fields are repeated, not inherited: a shared base would move ``depends_on`` last
    in the settings' JSON, a format change (a test pins that the fields agree)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = False
    interval_s: Annotated[int, Field(ge=10, le=86400)] = 60
    timeout_s: Annotated[int, Field(ge=1, le=60)] = 5
    failure_threshold: Annotated[int, Field(ge=1, le=100)] = 3
    recovery_threshold: Annotated[int, Field(ge=1, le=100)] = 2
    latency_slo_ms: Annotated[int, Field(ge=1, le=600_000)] | None = None
    auth_failure_limit: Annotated[int, Field(ge=1, le=100)] = 3

    def settings(self, depends_on: list[Any]) -> HealthCheckSettings:
        """The settings a command carries, with the dependencies resolved to ids."""
        return HealthCheckSettings.model_validate({**self.model_dump(), "depends_on": depends_on})


__all__ = ["DeclaredHealthCheck"]
