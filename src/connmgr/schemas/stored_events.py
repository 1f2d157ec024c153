"""An event as the log stores it, beside its data model (``schemas.events``).

``EventMetadata`` is what each stored event carries besides its data (command,
actor, tenant, correlation and the ``traceparent`` the hash covers).
``decode_event_data`` and ``decode_as`` read a stored data document back as its
model today, upcasting an older ``schema_version`` first (``schemas.upcasting``);
``FutureSchemaVersion`` refuses one newer than the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from connmgr.schemas.bus.headers import TRACEPARENT_PATTERN
from connmgr.schemas.events import EVENT_TYPES, E, EventData
from connmgr.schemas.upcasting import schema_version_of, upcast


class FutureSchemaVersion(ValueError):
    """A stored document written by a newer model than this code knows."""


def decode_as(model: type[E], document: Mapping[str, Any]) -> E:
    """A stored ``model`` document read back at the model's version today: upcast
    (``schemas.upcasting``), then validated leniently (JSON hands UUIDs and times back
    as text). Raises ``ValidationError`` for a document the model refuses and
    ``FutureSchemaVersion`` for one newer than the model."""
    current = upcast(model.__name__, document)
    if schema_version_of(current) > model.model_fields["schema_version"].default:
        raise FutureSchemaVersion(f"{model.__name__} data has a newer schema_version")
    return model.model_validate(current, strict=False)


def decode_event_data(event_type: str, document: Mapping[str, Any]) -> EventData:
    """A stored event document as its model today (``decode_as``); ``KeyError`` for a
    type that is not in ``EVENT_TYPES``."""
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise KeyError(f"unknown event type {event_type!r}")
    return decode_as(model, document)


class EventMetadata(BaseModel):
    # python-re: the traceparent pattern's look-aheads (not all zeros) need it.
    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")

    command_id: UUID | None
    actor_id: str | None
    tenant: str
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = Field(default=None, pattern=TRACEPARENT_PATTERN, max_length=55)
    """The W3C ``traceparent`` of the span that appended the event (docs/security.md, "The
    log is evidence": the hash covers it). Absent, not null, when nothing was traced, so
    an untraced event's canonical form is what it was before traces."""

    @model_serializer(mode="wrap")
    def _without_absent_traceparent(self, handler: SerializerFunctionWrapHandler) -> Any:
        document = handler(self)
        if isinstance(document, dict) and document.get("traceparent") is None:
            document.pop("traceparent", None)
        return document
