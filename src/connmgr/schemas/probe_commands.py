"""Commands that test or check a connection: ``test`` (now, on demand) and ``check``.

A ``test`` of a stored connection carries an empty payload. A *draft* test
carries a full create payload with ``"draft": true``: the configuration is
tested without being stored (the "test before save" of every connection form),
and only the result, without its secrets, is recorded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, TypeAdapter, ValidationError

from connmgr.schemas.command_parsing import check_raw_command, without_tag_errors
from connmgr.schemas.commands import CreatePayload, _Command
from connmgr.schemas.fields import STRICT_MODEL
from connmgr.schemas.outcomes import Rejection


class StoredTestPayload(BaseModel):
    model_config = STRICT_MODEL

    draft: Literal[False] = False


class DraftTestPayload(CreatePayload):
    draft: Literal[True]


def _payload_kind(value: Any) -> str:
    """Which payload a test carries, from raw JSON or from a model being serialised."""
    if isinstance(value, DraftTestPayload):
        return "draft"
    is_draft = isinstance(value, dict) and value.get("draft") is True
    return "draft" if is_draft else "stored"


class TestConnection(_Command):
    __test__ = False  # not a pytest class

    type: Literal["test"]
    payload: Annotated[
        Annotated[StoredTestPayload, Tag("stored")] | Annotated[DraftTestPayload, Tag("draft")],
        Discriminator(_payload_kind),
    ] = Field(default_factory=StoredTestPayload)

    @property
    def draft(self) -> DraftTestPayload | None:
        return self.payload if isinstance(self.payload, DraftTestPayload) else None


class CheckConnection(_Command):
    type: Literal["check"]
    payload: StoredTestPayload = Field(default_factory=StoredTestPayload)


ProbeCommand = TestConnection | CheckConnection

_PROBE_COMMAND: TypeAdapter[ProbeCommand] = TypeAdapter(
    Annotated[ProbeCommand, Field(discriminator="type")]
)


def parse_probe_command(raw: bytes) -> ProbeCommand | Rejection:
    """Decode and validate a test or check command; never raises on bad input."""
    if (problem := check_raw_command(raw)) is not None:
        return problem
    try:
        return _PROBE_COMMAND.validate_json(raw, strict=True)
    except ValidationError as error:
        return without_tag_errors(error)
