"""The projection: a pure fold of the event log into connection states.

``apply(state, event) -> state``, one small function per event type. Event data
is read back with ``decode_as``: upcast to the model's version today
(``schemas.upcasting``), then validated leniently (a UUID stored as text is a
UUID again); commands are the strict side. The live
table is updated with it in the same transaction as the append; ``rebuild``
runs the same fold over the whole log, so the two cannot drift (``docs/reliability.md`` I4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from connmgr.schemas.events import (
    ConnectionCreated,
    ConnectionDeleted,
    ConnectionTested,
    ConnectionUpdated,
    E,
    EncryptedSecrets,
    HealthStatusChanged,
    SecretsRotated,
)
from connmgr.schemas.stored_events import decode_as
from connmgr.storage.event_log import StoredEvent

INITIAL_STATUS: Final = "unknown"


@dataclass(frozen=True, slots=True)
class ConnectionState:
    id: str
    tenant: str
    name: str
    kind: str
    template: str | None
    config: dict[str, Any]
    auth: dict[str, Any]
    secrets: EncryptedSecrets | None
    health_check: dict[str, Any]
    tags: tuple[str, ...]
    description: str
    status: str
    version: int
    deleted: bool
    created_at: datetime
    updated_at: datetime
    last_test: dict[str, Any] | None = None
    status_since: datetime | None = None
    notify: dict[str, Any] | None = None

    @property
    def secrets_version(self) -> int:
        return self.secrets.secrets_version if self.secrets else 0


Fold = Callable[[ConnectionState | None, StoredEvent, Any], ConnectionState | None]
"""A fold reads the event's data as its model: the one passed in when the caller holds
it already (``apply``'s ``data``), else decoded from the stored document."""


def _data(model: type[E], event: StoredEvent, data: object) -> E:
    """``data`` when it is already the event's model (a writer folding the event it has
    just made, whose stored document is that model's dump), else the stored document
    decoded (``decode_as``): validating twice what was built once bought nothing."""
    return data if isinstance(data, model) else decode_as(model, event.data)


def _created(
    _state: ConnectionState | None, event: StoredEvent, given: object = None
) -> ConnectionState:
    data = _data(ConnectionCreated, event, given)
    return ConnectionState(
        id=event.stream_id,
        tenant=event.tenant,
        name=data.name,
        kind=data.kind.value,
        template=data.template,
        config=data.config,
        auth=data.auth,
        secrets=data.secrets,
        health_check=data.health_check.model_dump(mode="json"),
        tags=tuple(data.tags),
        description=data.description,
        notify=data.notify,
        status=INITIAL_STATUS,
        version=event.version,
        deleted=False,
        created_at=event.recorded_at,
        updated_at=event.recorded_at,
    )


def _updated(
    state: ConnectionState | None, event: StoredEvent, given: object = None
) -> ConnectionState:
    current = _existing(state, event)
    data = _data(ConnectionUpdated, event, given)
    changes: dict[str, Any] = {
        "name": data.name,
        "kind": data.kind.value if data.kind else None,
        "config": data.config,
        "auth": data.auth,
        "secrets": data.secrets,
        "health_check": data.health_check.model_dump(mode="json") if data.health_check else None,
        "tags": tuple(data.tags) if data.tags is not None else None,
        "description": data.description,
        "notify": data.notify,
    }
    present = {field: value for field, value in changes.items() if field in data.changed}
    return replace(current, **present, version=event.version, updated_at=event.recorded_at)


def _rotated(
    state: ConnectionState | None, event: StoredEvent, given: object = None
) -> ConnectionState:
    current = _existing(state, event)
    data = _data(SecretsRotated, event, given)
    return replace(
        current, secrets=data.secrets, version=event.version, updated_at=event.recorded_at
    )


def _deleted(
    state: ConnectionState | None, event: StoredEvent, given: object = None
) -> ConnectionState:
    current = _existing(state, event)
    _data(ConnectionDeleted, event, given)
    return replace(
        current, deleted=True, secrets=None, version=event.version, updated_at=event.recorded_at
    )


def _tested(
    state: ConnectionState | None, event: StoredEvent, given: object = None
) -> ConnectionState | None:
    data = _data(ConnectionTested, event, given)
    if state is None or data.draft is not None:
        return state
    return replace(state, last_test=data.result.model_dump(mode="json"), version=event.version)


def _status_changed(
    state: ConnectionState | None, event: StoredEvent, given: object = None
) -> ConnectionState:
    current = _existing(state, event)
    data = _data(HealthStatusChanged, event, given)
    return replace(current, status=data.status, status_since=data.changed_at, version=event.version)


def _existing(state: ConnectionState | None, event: StoredEvent) -> ConnectionState:
    if state is None:
        raise ValueError(
            f"{event.type} at position {event.position} has no prior ConnectionCreated"
        )
    return state


FOLDS: Final[dict[str, Fold]] = {
    "ConnectionCreated": _created,
    "ConnectionUpdated": _updated,
    "SecretsRotated": _rotated,
    "ConnectionDeleted": _deleted,
    "ConnectionTested": _tested,
    "HealthStatusChanged": _status_changed,
}


def apply(
    state: ConnectionState | None, event: StoredEvent, data: object = None
) -> ConnectionState | None:
    """Fold one event into a connection's state; event types it does not know leave it as is.

    ``data``: the event's data model, when the caller built the event from it (its
    stored document is that model's dump), so it is not decoded and validated again."""
    fold = FOLDS.get(event.type)
    if fold is None:
        return state if state is None else replace(state, version=event.version)
    return fold(state, event, data)
