"""Outcomes of commands: stable reason codes, field errors, and the reply document.

Every rejection carries a reason code, a human sentence and the fields concerned;
none ever contains an input value, a secret, a stack trace or a driver message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError, WithJsonSchema


class Reason(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_COMMAND = "invalid_command"
    UNKNOWN_COMMAND = "unknown_command"
    TOO_LARGE = "too_large"
    UNKNOWN_KIND = "unknown_kind"
    INVALID_CONFIG = "invalid_config"
    INVALID_RECIPIENTS = "invalid_recipients"
    """``notify`` names an address ``email-validator`` refuses, too many, or is given
    for a kind that mails nothing (only ``smtp`` connections have recipients)."""
    UNKNOWN_TEMPLATE = "unknown_template"
    AUTH_NOT_ALLOWED = "auth_method_not_allowed"
    SUBJECT_MISMATCH = "subject_mismatch"
    TENANT_MISMATCH = "tenant_mismatch"
    NOT_FOUND = "not_found"
    ID_UNAVAILABLE = "id_unavailable"
    """A create's connection id is taken — by this tenant, now or before, or by another:
    the answer is the same, so it never tells that an id exists elsewhere."""
    NAME_TAKEN = "name_taken"
    """Another live connection of the tenant has this name: names are unique per tenant
    (a create, or an update that renames; ``docs/decisions.md``, "Unique names")."""
    VERSION_CONFLICT = "version_conflict"
    PLAINTEXT_NOT_ALLOWED = "plaintext_not_allowed"
    INVALID_SEALED_SECRETS = "invalid_sealed_secrets"
    UNKNOWN_SEAL_KEY = "unknown_seal_key"
    INVALID_SECRETS = "invalid_secrets"
    SECRETS_REQUIRED = "secrets_required"
    MAX_DELIVERIES = "max_deliveries"
    CONTROL_HEADERS = "control_headers"
    """The command carried a header the broker interprets (schedules, rollups, …)."""
    INVALID_REPLY_TO = "invalid_reply_to"
    """``reply_to`` is not under an inbox prefix of the command's tenant."""


REASON_CODES: Final = tuple(reason.value for reason in Reason)

ReasonCode = Annotated[str, WithJsonSchema({"type": "string", "enum": list(REASON_CODES)})]
"""A ``Reason`` value as a document carries it: text, described as the closed list of
codes (a new code is a change of the published contract, ``schemas.json_schema``)."""


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    message: str
    code: str = "invalid"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    message: str
    errors: tuple[FieldError, ...] | list[FieldError] = field(default_factory=tuple)


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """Field errors of a pydantic error, without the offending input values."""
    result: list[FieldError] = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        path = ".".join(str(part) for part in item["loc"] if not _is_union_branch(part))
        full = ".".join(p for p in (prefix, path) if p)
        result.append(FieldError(field=full, message=str(item["msg"]), code=str(item["type"])))
    return result[:50]


def _is_union_branch(part: object) -> bool:
    """pydantic names union branches in error paths (``SealedSecrets``, ``function-after``)."""
    return isinstance(part, str) and (part[:1].isupper() or part.startswith("function-"))


class CommandOutcome(BaseModel):
    """Published to a command's ``reply_to`` and recorded for every handled command."""

    model_config = ConfigDict(frozen=True)

    command_id: UUID
    connection_id: UUID | None
    outcome: Literal["accepted", "rejected"]
    version: int | None
    events: list[str]
    reason: ReasonCode | None = None
    message: str | None = None
    errors: list[FieldError] = []
    result: dict[str, Any] | None = None
