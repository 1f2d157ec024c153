"""What the read side returns: connection and event views, free of secret material.

A connection view exposes its secret field names and secrets version only; an event
view has its data upcast to the model's version today, every ``secrets`` object in
it reduced to ``{"secrets_version", "field_names"}`` and any stray
``ciphertext``/``nonce`` dropped, wherever it sits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from connmgr.schemas.relayed import SECRETS_SUMMARY_FIELDS
from connmgr.schemas.upcasting import upcast
from connmgr.storage.connection_columns import shared_columns
from connmgr.storage.event_log import as_utc

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
    notify: dict[str, Any] | None = None
    """E-mail recipients and sender of an ``smtp`` channel (``schemas.recipients``)."""


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
            value = {k: value.get(k) for k in SECRETS_SUMMARY_FIELDS}
        result[key] = redact_event_data(value)
    return result


def connection_view(row: Mapping[Any, Any]) -> ConnectionView:
    """The view of a ``connections`` row (its ``secrets`` document reduced to names)."""
    secrets = row["secrets"] or {}
    fields = shared_columns(row)
    fields["secret_fields"] = sorted(secrets.get("field_names") or [])
    fields["secrets_version"] = secrets.get("secrets_version")
    fields["tags"] = list(row["tags"])
    # The same validation as ConnectionView(**fields), minus packing the keywords again.
    return ConnectionView.model_validate(fields)


def event_view(row: Mapping[Any, Any]) -> EventView:
    """The view of an ``events`` row: data upcast to its model's version today
    (``schemas.upcasting``), then redacted. ``hash`` covers the stored form."""
    return EventView(
        position=row["position"],
        event_id=row["event_id"],
        stream_id=row["stream_id"],
        version=row["version"],
        type=row["type"],
        data=redact_event_data(upcast(row["type"], row["data"])),
        metadata=row["metadata"],
        recorded_at=as_utc(row["recorded_at"]),
        hash=row["hash"],
    )
