"""Commands: the write contract, published on ``connmgr.cmd.<tenant>.<verb>.<id>``.

The models of the encryptor's commands (create, update, rotate, delete) and their
payloads. ``schemas.command_parsing`` turns raw message bytes into one of them or a
``Rejection``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from connmgr.schemas.bus.inboxes import REPLY_INBOX_PREFIX
from connmgr.schemas.bus.subjects import TENANT_PATTERN
from connmgr.schemas.connection_auth import Auth, NoAuth
from connmgr.schemas.fields import STRICT_MODEL, Description, Identifier, Name, Tag
from connmgr.schemas.health import HealthCheckSettings
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import FieldError
from connmgr.schemas.recipients import NotifySettings

Tenant = Annotated[str, StringConstraints(pattern=TENANT_PATTERN)]
ReplySubject = Annotated[
    str,
    StringConstraints(
        max_length=256, pattern=rf"^{REPLY_INBOX_PREFIX.replace('.', '[.]')}[A-Za-z0-9_.-]+$"
    ),
]
Base64Text = Annotated[str, StringConstraints(min_length=1, max_length=48000)]
SecretsObject = dict[Annotated[str, StringConstraints(max_length=128)], str]


class Actor(BaseModel):
    model_config = STRICT_MODEL

    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    tenant: Tenant


class SealedSecrets(BaseModel):
    """HPKE-sealed JSON object of secret fields (see ``connmgr.schemas.sealed``)."""

    model_config = STRICT_MODEL

    sealed: Base64Text
    key_id: Identifier


class PlaintextSecrets(BaseModel):
    """Refused unless the deployment allows plaintext secrets (the dev stack may)."""

    model_config = STRICT_MODEL

    plaintext: SecretsObject = Field(max_length=32)


SecretsInput = SealedSecrets | PlaintextSecrets


class CreatePayload(BaseModel):
    model_config = STRICT_MODEL

    name: Name
    kind: Kind
    template: Identifier | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    auth: Auth = Field(default_factory=NoAuth)
    secrets: SecretsInput | None = None
    health_check: HealthCheckSettings = Field(default_factory=HealthCheckSettings)
    tags: list[Tag] = Field(default_factory=list, max_length=32)
    description: Description = ""
    notify: NotifySettings | None = None


class UpdatePayload(BaseModel):
    """Only the fields given change; ``config``, ``auth`` and ``notify`` are replaced
    whole (``notify`` without recipients and sender removes them)."""

    model_config = STRICT_MODEL

    expected_version: Annotated[int, Field(ge=1)] | None = None
    name: Name | None = None
    kind: Kind | None = None
    config: dict[str, Any] | None = None
    auth: Auth | None = None
    secrets: SecretsInput | None = None
    health_check: HealthCheckSettings | None = None
    tags: list[Tag] | None = Field(default=None, max_length=32)
    description: Description | None = None
    notify: NotifySettings | None = None


class RotatePayload(BaseModel):
    model_config = STRICT_MODEL

    expected_version: Annotated[int, Field(ge=1)] | None = None
    secrets: SecretsInput


class DeletePayload(BaseModel):
    model_config = STRICT_MODEL

    expected_version: Annotated[int, Field(ge=1)] | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class _Command(BaseModel):
    model_config = STRICT_MODEL

    command_id: UUID
    connection_id: UUID
    issued_at: AwareDatetime
    actor: Actor
    correlation_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    reply_to: ReplySubject | None = None


class CreateConnection(_Command):
    type: Literal["create"]
    payload: CreatePayload


class UpdateConnection(_Command):
    type: Literal["update"]
    payload: UpdatePayload


class RotateSecrets(_Command):
    type: Literal["rotate"]
    payload: RotatePayload


class DeleteConnection(_Command):
    type: Literal["delete"]
    payload: DeletePayload = Field(default_factory=DeletePayload)


EncryptorCommand = CreateConnection | UpdateConnection | RotateSecrets | DeleteConnection


def issued_now() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "Actor",
    "CreateConnection",
    "CreatePayload",
    "DeleteConnection",
    "DeletePayload",
    "EncryptorCommand",
    "FieldError",
    "PlaintextSecrets",
    "RotatePayload",
    "RotateSecrets",
    "SealedSecrets",
    "SecretsInput",
    "UpdateConnection",
    "UpdatePayload",
]
