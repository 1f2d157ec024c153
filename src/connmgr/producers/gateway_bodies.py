"""What the command gateway's write routes take: JSON bodies with sealed secrets only.

Each body is its command payload (``schemas/commands.py``) with ``secrets``
narrowed to ``SealedSecrets``: sealed in the browser (or any client) to the key
of ``GET /api/keys/seal``, bound to the connection id (docs/security.md). A body
carrying ``secrets.plaintext`` is refused before validation with reason
``plaintext_not_allowed`` naming the field, never its value. ``If-Match`` (the
ETag of ``GET /api/connections/{id}``, ``"<id>.v<version>"``) becomes
``expected_version``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError

from connmgr.schemas.commands import (
    CreatePayload,
    RotatePayload,
    SealedSecrets,
    UpdatePayload,
)
from connmgr.schemas.outcomes import FieldError, Reason, field_errors

MAX_BODY_BYTES: Final = 256 * 1024
_ETAG: Final = re.compile(r'^(?:W/)?"(?P<id>[0-9a-f-]{36})\.v(?P<version>[1-9][0-9]{0,17})"$')

B = TypeVar("B", bound=BaseModel)


class CreateBody(CreatePayload):
    """``POST /api/connections`` and ``POST /api/connections/test`` (a draft)."""

    id: UUID | None = None
    """The new connection's id (the one its secrets are sealed for); a new uuid4 if absent."""
    secrets: SealedSecrets | None = None


class UpdateBody(UpdatePayload):
    """``PUT /api/connections/{id}``: only the fields given change."""

    secrets: SealedSecrets | None = None


class RotateBody(RotatePayload):
    """``POST /api/connections/{id}/rotate``: all the secrets, sealed."""

    secrets: SealedSecrets


class BodyRefused(Exception):
    """A body the gateway refuses before publishing anything: a reason and field errors."""

    def __init__(self, reason: Reason, message: str, errors: list[FieldError]) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.errors = errors


def parse_body(raw: bytes, model: type[B]) -> B:
    """``raw`` as ``model``; ``BodyRefused`` (plaintext secrets, invalid JSON or fields)."""
    if len(raw) > MAX_BODY_BYTES:
        raise BodyRefused(Reason.TOO_LARGE, f"the body exceeds {MAX_BODY_BYTES} bytes", [])
    try:
        document = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BodyRefused(Reason.INVALID_JSON, "the body is not JSON", []) from None
    if not isinstance(document, dict):
        raise BodyRefused(Reason.INVALID_JSON, "the body is not a JSON object", [])
    _refuse_plaintext(document)
    try:
        return model.model_validate_json(json.dumps(document))
    except ValidationError as error:
        errors = field_errors(error)
    raise BodyRefused(Reason.INVALID_COMMAND, "the body is invalid", errors)


def payload_fields(body: BaseModel, *, without: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields given in ``body`` as its strict payload model takes them."""
    return body.model_dump(exclude_unset=True, exclude=set(without))


def expected_version(if_match: str | None, connection_id: UUID) -> int | None:
    """The version ``If-Match`` names (None without one); ``BodyRefused`` when it is not
    an ETag of this connection."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.fullmatch(if_match.strip())
    if match is None or match.group("id") != str(connection_id):
        error = FieldError(
            field="If-Match",
            message='expected the ETag of this connection: "<id>.v<version>"',
            code="invalid_etag",
        )
        raise BodyRefused(Reason.INVALID_COMMAND, "If-Match is not this connection's ETag", [error])
    return int(match.group("version"))


def _refuse_plaintext(document: dict[str, Any]) -> None:
    secrets = document.get("secrets")
    if isinstance(secrets, dict) and "plaintext" in secrets:
        error = FieldError(
            field="secrets.plaintext",
            message="secrets are accepted sealed only, to the key of GET /api/keys/seal",
            code=Reason.PLAINTEXT_NOT_ALLOWED.value,
        )
        raise BodyRefused(Reason.PLAINTEXT_NOT_ALLOWED, "plaintext secrets are refused", [error])
