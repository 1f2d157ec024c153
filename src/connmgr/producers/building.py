"""Pure building blocks of a command: the intent, typed payloads, the envelope, the outcome.

Validation here mirrors the encryptor's (strict models from ``schemas``), so a
command that fails it is never published: ``InvalidCommand`` names the fields,
never their values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError

from connmgr.schemas.commands import (
    CreateConnection,
    CreatePayload,
    DeleteConnection,
    DeletePayload,
    EncryptorCommand,
    RotatePayload,
    RotateSecrets,
    UpdateConnection,
    UpdatePayload,
    issued_now,
)
from connmgr.schemas.outcomes import CommandOutcome, FieldError, field_errors
from connmgr.schemas.probe_commands import (
    CheckConnection,
    DraftTestPayload,
    ProbeCommand,
    StoredTestPayload,
    TestConnection,
)

from .errors import InvalidCommand, ProducerError

Payload = (
    CreatePayload
    | UpdatePayload
    | RotatePayload
    | DeletePayload
    | StoredTestPayload
    | DraftTestPayload
)
Command = EncryptorCommand | ProbeCommand
Verb = Literal["create", "update", "rotate", "delete", "test", "check"]
M = TypeVar("M", bound=BaseModel)

COMMAND_MODELS: Final[Mapping[Verb, type[Command]]] = {
    "create": CreateConnection,
    "update": UpdateConnection,
    "rotate": RotateSecrets,
    "delete": DeleteConnection,
    "test": TestConnection,
    "check": CheckConnection,
}


@dataclass(frozen=True, slots=True)
class CommandIntent:
    """A command before its ids and sealing: what to send, and the secrets to seal in it.

    The channel builds the command from it (a new command id, the secrets sealed
    under the current seal key) and builds it again for a resend after a stale key.
    Held only for the duration of one call.
    """

    verb: Verb
    payload_type: type[Payload]
    fields: Mapping[str, Any]
    connection_id: UUID
    correlation_id: str | None = None
    secrets: Mapping[str, str] | None = field(default=None, repr=False)


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    """``model`` validated strictly from ``data``; ``InvalidCommand`` without input values."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as error:
        errors = field_errors(error)
    raise InvalidCommand("the command is invalid", errors)


def given(**values: Any) -> dict[str, Any]:
    """The fields that were given (None dropped), as the plain types strict models take."""
    return {
        name: dict(value) if isinstance(value, Mapping) else value
        for name, value in values.items()
        if value is not None
    }


def to_uuid(value: UUID | str) -> UUID:
    """A connection id as a UUID; ``InvalidCommand`` when it is not one."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError):
        error = FieldError(field="connection_id", message="must be a UUID")
        raise InvalidCommand("invalid connection id", [error]) from None


def verb_of(payload: Payload) -> Verb:
    """The verb a payload implies; an empty probe payload means ``test`` unless told."""
    match payload:
        case DraftTestPayload() | StoredTestPayload():  # a draft is a CreatePayload: first
            return "test"
        case CreatePayload():
            return "create"
        case UpdatePayload():
            return "update"
        case RotatePayload():
            return "rotate"
        case DeletePayload():
            return "delete"


def build_command(
    payload: Payload,
    connection_id: UUID,
    *,
    tenant: str,
    actor_id: str,
    command_id: UUID,
    correlation_id: str | None,
    reply_to: str | None,
    verb: Verb | None = None,
) -> Command:
    """The ``verb`` command carrying ``payload`` (``verb_of(payload)`` by default).

    The command's model validates the pair: a payload of another verb (a draft
    sent as a ``check``) raises ``InvalidCommand``.
    """
    verb = verb_of(payload) if verb is None else verb
    envelope = {
        "command_id": command_id,
        "connection_id": connection_id,
        "issued_at": issued_now(),
        "actor": {"id": actor_id, "tenant": tenant},
        "correlation_id": correlation_id,
        "reply_to": reply_to,
        # as a dict: the test payload's discriminator reads ``draft`` from a mapping
        "payload": payload.model_dump(),
        "type": verb,
    }
    return validated(COMMAND_MODELS[verb], envelope)


def command_body(command: Command) -> bytes:
    """The command's JSON bytes, its payload serialised by the payload's own model.

    (The test payload's union picks its branch from a mapping, so serialising a
    draft through the command's field would warn and fall back to guessing.)
    """
    envelope = command.model_dump(mode="json", exclude={"payload"}, exclude_none=True)
    envelope["payload"] = command.payload.model_dump(mode="json", exclude_none=True)
    return json.dumps(envelope, separators=(",", ":")).encode()


def parse_outcome(data: bytes, command_id: UUID) -> CommandOutcome:
    """The reply for ``command_id``; ``ProducerError`` when it is not a valid outcome of it."""
    try:
        outcome = CommandOutcome.model_validate_json(data)
    except ValidationError:
        outcome = None
    if outcome is None or outcome.command_id != command_id:
        raise ProducerError(f"the reply for command {command_id} is not a valid outcome")
    return outcome
