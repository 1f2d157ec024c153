"""Pure building blocks of a command: typed payloads, the envelope, the outcome.

Validation here mirrors the encryptor's (strict models from ``schemas``), so a
command that fails it is never published: ``InvalidCommand`` names the fields,
never their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
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
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import CommandOutcome, FieldError, field_errors

from .errors import InvalidCommand, ProducerError

Payload = CreatePayload | UpdatePayload | RotatePayload | DeletePayload
M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    """``model`` validated strictly from ``data``; ``InvalidCommand`` without input values."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as error:
        errors = field_errors(error)
    raise InvalidCommand("the command is invalid", errors)


def given(**values: Any) -> dict[str, Any]:
    """The fields that were given (None dropped), as the plain types strict models take."""
    fields = {
        name: dict(value) if isinstance(value, Mapping) else value
        for name, value in values.items()
        if value is not None
    }
    if "kind" in fields:
        fields["kind"] = _kind(fields["kind"])
    return fields


def _kind(value: Any) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        allowed = ", ".join(kind.value for kind in Kind)
        raise InvalidCommand(
            "unknown connection kind",
            [FieldError(field="kind", message=f"must be one of {allowed}")],
        ) from None


def to_uuid(value: UUID | str) -> UUID:
    """A connection id as a UUID; ``InvalidCommand`` when it is not one."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError):
        error = FieldError(field="connection_id", message="must be a UUID")
        raise InvalidCommand("invalid connection id", [error]) from None


def build_command(
    payload: Payload,
    connection_id: UUID,
    *,
    tenant: str,
    actor_id: str,
    command_id: UUID,
    correlation_id: str | None,
    reply_to: str | None,
) -> EncryptorCommand:
    """The command carrying ``payload``: its type follows from the payload's type."""
    envelope = {
        "command_id": command_id,
        "connection_id": connection_id,
        "issued_at": issued_now(),
        "actor": {"id": actor_id, "tenant": tenant},
        "correlation_id": correlation_id,
        "reply_to": reply_to,
        "payload": payload,
    }
    match payload:
        case CreatePayload():
            return validated(CreateConnection, {**envelope, "type": "create"})
        case UpdatePayload():
            return validated(UpdateConnection, {**envelope, "type": "update"})
        case RotatePayload():
            return validated(RotateSecrets, {**envelope, "type": "rotate"})
        case DeletePayload():
            return validated(DeleteConnection, {**envelope, "type": "delete"})


def parse_outcome(data: bytes, command_id: UUID) -> CommandOutcome:
    """The reply for ``command_id``; ``ProducerError`` when it is not a valid outcome of it."""
    try:
        outcome = CommandOutcome.model_validate_json(data)
    except ValidationError:
        outcome = None
    if outcome is None or outcome.command_id != command_id:
        raise ProducerError(f"the reply for command {command_id} is not a valid outcome")
    return outcome
