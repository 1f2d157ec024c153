"""``ConnectionWrites``: the commands that change a connection, for ``Producer``.

Each returns the ``CommandOutcome`` (a rejection is returned, not raised) or
raises ``OutcomeTimeout``; the channel's ``timeout_s`` is the default wait.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID, uuid4

from connmgr.schemas.commands import CreatePayload, DeletePayload, RotatePayload, UpdatePayload
from connmgr.schemas.outcomes import CommandOutcome

from .building import creation_fields, given, to_uuid
from .channel import CommandChannel, Draft, Secrets


class ConnectionWrites(CommandChannel):
    """``create``, ``update``, ``rotate`` and ``delete`` over the channel."""

    async def create(
        self,
        *,
        name: str,
        kind: str,
        config: Mapping[str, Any] | None = None,
        auth: Mapping[str, Any] | None = None,
        secrets: Secrets | None = None,
        template: str | None = None,
        health_check: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        description: str = "",
        connection_id: UUID | str | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Create a connection; its id is a new uuid4 unless given (``outcome.connection_id``)."""
        fields = creation_fields(
            name=name,
            kind=kind,
            config=config,
            auth=auth,
            template=template,
            health_check=health_check,
            tags=tags,
            description=description,
        )
        cid = uuid4() if connection_id is None else to_uuid(connection_id)
        return await self.request(
            Draft(CreatePayload, fields, cid, correlation_id), secrets, timeout_s
        )

    async def update(
        self,
        connection_id: UUID | str,
        *,
        name: str | None = None,
        kind: str | None = None,
        config: Mapping[str, Any] | None = None,
        auth: Mapping[str, Any] | None = None,
        secrets: Secrets | None = None,
        health_check: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        description: str | None = None,
        expected_version: int | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Change the fields given (``config`` and ``auth`` replace whole); None keeps one.

        Changing host, port, kind or username needs new ``secrets`` (``docs/security.md``,
        "A changed destination asks for the secrets again").
        """
        fields = given(
            name=name,
            kind=kind,
            config=config,
            auth=auth,
            health_check=health_check,
            tags=None if tags is None else list(tags),
            description=description,
            expected_version=expected_version,
        )
        draft = Draft(UpdatePayload, fields, to_uuid(connection_id), correlation_id)
        return await self.request(draft, secrets, timeout_s)

    async def rotate(
        self,
        connection_id: UUID | str,
        secrets: Secrets,
        *,
        expected_version: int | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Replace the connection's secrets with ``secrets`` (all of them, not a merge)."""
        fields = given(expected_version=expected_version)
        draft = Draft(RotatePayload, fields, to_uuid(connection_id), correlation_id)
        return await self.request(draft, secrets, timeout_s)

    async def delete(
        self,
        connection_id: UUID | str,
        *,
        expected_version: int | None = None,
        reason: str = "",
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Delete the connection: its data key is destroyed, its history stays."""
        fields = given(expected_version=expected_version, reason=reason)
        draft = Draft(DeletePayload, fields, to_uuid(connection_id), correlation_id)
        return await self.request(draft, None, timeout_s)
