"""The intents of the commands that change a connection: create, update, rotate, delete.

Pure: each builds the ``CommandIntent`` that ``Producer`` hands to its channel. A
spec (``schemas.connection_spec``) is valid by construction, so its fields make
a valid payload; the secrets travel beside the fields, to be sealed per send.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from connmgr.schemas.commands import CreatePayload, DeletePayload, RotatePayload, UpdatePayload
from connmgr.schemas.connection_spec import ConnectionChanges, ConnectionSpec

from .building import CommandIntent, given


def create(spec: ConnectionSpec, connection_id: UUID, correlation_id: str | None) -> CommandIntent:
    """Create ``spec`` as ``connection_id``, its secrets sealed for that id."""
    return CommandIntent(
        "create",
        CreatePayload,
        spec.payload_fields(),
        connection_id,
        correlation_id,
        spec.secret_values(),
    )


def update(
    changes: ConnectionChanges | ConnectionSpec,
    connection_id: UUID,
    expected_version: int | None,
    correlation_id: str | None,
) -> CommandIntent:
    """Change the fields ``changes`` gives; a whole spec gives every field but the template."""
    if isinstance(changes, ConnectionSpec):
        changes = ConnectionChanges.from_spec(changes)
    fields = {**changes.payload_fields(), **given(expected_version=expected_version)}
    return CommandIntent(
        "update", UpdatePayload, fields, connection_id, correlation_id, changes.secret_values()
    )


def rotate(
    secrets: Mapping[str, str],
    connection_id: UUID,
    expected_version: int | None,
    correlation_id: str | None,
) -> CommandIntent:
    """Replace the connection's secrets with ``secrets`` (all of them, not a merge)."""
    fields = given(expected_version=expected_version)
    return CommandIntent("rotate", RotatePayload, fields, connection_id, correlation_id, secrets)


def delete(
    connection_id: UUID, expected_version: int | None, reason: str, correlation_id: str | None
) -> CommandIntent:
    """Delete the connection: its data key is destroyed, its history stays."""
    fields = given(expected_version=expected_version, reason=reason)
    return CommandIntent("delete", DeletePayload, fields, connection_id, correlation_id)
