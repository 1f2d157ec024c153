"""What the read side returns: connection and event views, free of secret material.

A connection view exposes its secret field names and secrets version only; an event
view has every ``secrets`` object in its data reduced to ``{"secrets_version",
"field_names"}`` and any stray ``ciphertext``/``nonce`` dropped, wherever it sits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

_SECRET_KEYS: Final = frozenset({"ciphertext", "nonce"})


class ConnectionView(BaseModel):
    """A connection as the API shows it: secret field names, never secret values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    tenant: str
    name: str
    kind: str
    template: str | None
    config: dict[str, Any]
    auth: dict[str, Any]
    secret_fields: list[str]
    secrets_version: int | None
    health_check: dict[str, Any]
    tags: list[str]
    description: str
    status: str
    version: int
    created_at: datetime
    updated_at: datetime
    last_test: dict[str, Any] | None = None
    status_since: datetime | None = None


class EventView(BaseModel):
    """A logged event, its data redacted of secret material."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: int
    event_id: str
    stream_id: str
    version: int
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    hash: str


class ConnectionPage(BaseModel):
    """``next_cursor`` is None on the last page."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[ConnectionView]
    next_cursor: str | None


class EventPage(BaseModel):
    """``next_after`` is what to pass as ``after`` next (the given one when empty)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[EventView]
    next_after: int
    has_more: bool


def redact_event_data(data: Any) -> Any:
    """``data`` with each ``secrets`` object reduced to version and field names."""
    if isinstance(data, list):
        return [redact_event_data(item) for item in data]
    if not isinstance(data, dict):
        return data
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECRET_KEYS:
            continue
        if key == "secrets" and isinstance(value, dict):
            value = {k: value.get(k) for k in ("secrets_version", "field_names")}
        result[key] = redact_event_data(value)
    return result


def connection_view(row: Mapping[Any, Any]) -> ConnectionView:
    """The view of a ``connections`` row (its ``secrets`` document reduced to names)."""
    secrets = row["secrets"] or {}
    return ConnectionView(
        id=row["id"],
        tenant=row["tenant"],
        name=row["name"],
        kind=row["kind"],
        template=row["template"],
        config=row["config"],
        auth=row["auth"],
        secret_fields=sorted(secrets.get("field_names") or []),
        secrets_version=secrets.get("secrets_version"),
        health_check=row["health_check"],
        tags=list(row["tags"]),
        description=row["description"],
        status=row["status"],
        version=row["version"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        last_test=row["last_test"],
        status_since=None if row["status_since"] is None else _utc(row["status_since"]),
    )


def event_view(row: Mapping[Any, Any]) -> EventView:
    """The view of an ``events`` row, data redacted."""
    return EventView(
        position=row["position"],
        event_id=row["event_id"],
        stream_id=row["stream_id"],
        version=row["version"],
        type=row["type"],
        data=redact_event_data(row["data"]),
        metadata=row["metadata"],
        recorded_at=_utc(row["recorded_at"]),
        hash=row["hash"],
    )


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
