"""Reading a command off the bus: the limits every command meets, its header, its parse.

``parse_encryptor_command`` turns raw message bytes into a typed command of
``schemas.commands`` or a ``Rejection`` with a stable reason code and field
errors; it never raises on bad input. ``read_header`` reads the fields a
rejection can still report when the payload is unusable.
"""

from __future__ import annotations

import functools
from typing import Annotated, Final
from uuid import UUID

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from connmgr.schemas.bus.streams import MAX_COMMAND_BYTES
from connmgr.schemas.bus.subjects import ALL_VERBS
from connmgr.schemas.commands import EncryptorCommand, ReplySubject
from connmgr.schemas.outcomes import FieldError, Reason, Rejection, field_errors

_ENCRYPTOR_COMMAND: TypeAdapter[EncryptorCommand] = TypeAdapter(
    Annotated[EncryptorCommand, Field(discriminator="type")]
)


class CommandHeader(BaseModel):
    """The fields a rejection can still report when the payload is unusable."""

    model_config = {"extra": "ignore", "frozen": True}

    command_id: UUID | None = None
    connection_id: UUID | None = None
    type: str | None = None
    correlation_id: str | None = None
    reply_to: ReplySubject | None = None


def read_header(raw: bytes) -> CommandHeader:
    """Best-effort header of a command, for reporting a rejection of it.

    A pool reads it for the message's log context and again in the gate: a body of
    at most ``HEADER_CACHE_BYTES`` is parsed once (the model is frozen, so sharing it
    is safe; the cache holds at most ``HEADER_CACHE_SIZE`` such bodies, so memory
    stays bounded whatever is sent)."""
    if len(raw) <= HEADER_CACHE_BYTES:
        return _cached_header(raw)
    return _parsed_header(raw)


HEADER_CACHE_BYTES: Final = 4096
HEADER_CACHE_SIZE: Final = 1024


@functools.lru_cache(maxsize=HEADER_CACHE_SIZE)
def _cached_header(raw: bytes) -> CommandHeader:
    return _parsed_header(raw)


def _parsed_header(raw: bytes) -> CommandHeader:
    try:
        return CommandHeader.model_validate_json(raw)
    except ValidationError:
        return CommandHeader()


def check_raw_command(raw: bytes) -> Rejection | None:
    """Limits every command meets before it is parsed: size, and no NUL characters
    (no text column or JSON document in PostgreSQL can store them)."""
    if len(raw) > MAX_COMMAND_BYTES:
        return Rejection(Reason.TOO_LARGE, f"commands are limited to {MAX_COMMAND_BYTES} bytes")
    if b"\\u0000" in raw or b"\x00" in raw:
        return Rejection(Reason.INVALID_COMMAND, "the command contains NUL characters")
    return None


def parse_encryptor_command(raw: bytes) -> EncryptorCommand | Rejection:
    """Decode and validate a create/update/rotate/delete command."""
    if (problem := check_raw_command(raw)) is not None:
        return problem
    try:
        return _ENCRYPTOR_COMMAND.validate_json(raw, strict=True)
    except ValidationError as error:
        return without_tag_errors(error)


def without_tag_errors(error: ValidationError) -> Rejection:
    """The rejection for a command that failed validation, with clean field paths."""
    errors = [_without_tag(e) for e in field_errors(error)]
    if any(e.code == "json_invalid" for e in errors):
        return Rejection(Reason.INVALID_JSON, "the command is not valid UTF-8 JSON")
    if any(e.field.startswith("payload.kind") for e in errors):
        return Rejection(Reason.UNKNOWN_KIND, "the connection kind is not supported", errors)
    if any(e.field.startswith("payload.notify") for e in errors):
        return Rejection(Reason.INVALID_RECIPIENTS, "the e-mail recipients are not valid", errors)
    if any(e.code in ("union_tag_invalid", "union_tag_not_found") for e in errors):
        return Rejection(Reason.UNKNOWN_COMMAND, "the command type is not handled here", errors)
    return Rejection(Reason.INVALID_COMMAND, "the command does not match its schema", errors)


_PAYLOAD_TAGS = frozenset({"draft", "stored"})


def _without_tag(error: FieldError) -> FieldError:
    """Drop the discriminator tag pydantic puts first in a union member's error path."""
    parts = error.field.split(".")
    if parts and parts[0] in ALL_VERBS:
        parts = parts[1:]
    if len(parts) > 2 and parts[0] == "payload" and parts[1] in _PAYLOAD_TAGS:
        parts = [parts[0], *parts[2:]]
    return error.model_copy(update={"field": ".".join(parts)})
