"""An event as other systems receive it on ``connmgr.evt.<tenant>.<connection_id>.<type>``.

The relay (``workers/relay/event_messages.py``) publishes each committed event as
a ``RelayedEvent``: the event's position in the log, its ids, version, type,
tenant, metadata and time, and its ``data`` upcast to the model's version today
(``schemas.upcasting``) with every ``secrets`` object reduced to a
``SecretsSummary``: no ciphertext, nonce or key material leaves the log.
``RELAYED_EVENTS`` holds one message model per event type, its ``type`` fixed and
its ``data`` the type's model: what the JSON Schema and AsyncAPI documents
describe (``schemas.json_schema``, ``schemas.asyncapi``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from connmgr.schemas.commands import Tenant
from connmgr.schemas.events import EVENT_TYPES
from connmgr.schemas.stored_events import EventMetadata


class SecretsSummary(BaseModel):
    """What an event tells of the secrets it sealed: their version and field names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secrets_version: int
    field_names: list[str]


SECRETS_SUMMARY_FIELDS: Final = tuple(SecretsSummary.model_fields)
"""The keys of a ``secrets`` object that the read side and the relay keep."""


class RelayedEvent(BaseModel):
    """The body of a relayed event; ``Nats-Msg-Id`` is its ``event_id``, so a
    re-publish after a relay crash is dropped by the stream's duplicate window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID
    position: int = Field(
        description="The event's place in the global log: strictly increasing, never reused."
    )
    stream_id: UUID = Field(
        description="The connection's id, or the stream of its own a rejection or a draft "
        "test is recorded in."
    )
    connection_id: UUID = Field(
        description="The connection the event is about: the subject's <connection_id>."
    )
    version: int = Field(description="The event's version within stream_id, from 1.")
    type: str
    tenant: Tenant
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: AwareDatetime


def _message_model(event_type: str, data: type[BaseModel]) -> type[RelayedEvent]:
    fixed_type: Any = Literal[event_type]  # one literal per type, built from the registry
    model: type[RelayedEvent] = create_model(
        f"{event_type}Message",
        __base__=RelayedEvent,
        __module__=__name__,
        __doc__=f"A relayed ``{event_type}`` event (see ``RelayedEvent``).",
        type=(fixed_type, ...),
        data=(data, ...),
    )
    return model


RELAYED_EVENTS: Final[Mapping[str, type[RelayedEvent]]] = MappingProxyType(
    {name: _message_model(name, model) for name, model in EVENT_TYPES.items()}
)
"""Each event type's relayed message model (``ConnectionCreatedMessage``, …)."""
