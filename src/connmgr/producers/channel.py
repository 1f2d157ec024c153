"""``CommandChannel``: the transport under ``Producer`` for one tenant and actor.

It seals secrets (``seal``), builds commands (``command``), publishes them once
per command id (``send``) and runs a request: publish, then await the outcome on
this channel's reply inbox (``request``). On an ``unknown_seal_key`` or
``invalid_sealed_secrets`` rejection the seal key is fetched again and, if it
changed, the command is resent once, sealed anew, with a new command id.
Secrets are held only for the duration of a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID, uuid4

from nats.aio.client import Client
from nats.js.api import PubAck

from connmgr.schemas.bus import (
    COMMAND_STREAM,
    MAX_COMMAND_BYTES,
    command_subject,
    is_valid_tenant,
    reply_allowed,
    tenant_inbox_prefix,
)
from connmgr.schemas.commands import SecretsInput
from connmgr.schemas.outcomes import CommandOutcome, Reason
from connmgr.schemas.sealed import SealKeyInfo

from .building import (
    Command,
    Payload,
    Verb,
    build_command,
    command_body,
    parse_outcome,
    to_uuid,
    validated,
)
from .errors import InvalidCommand, OutcomeTimeout
from .sealing import SealKeyCache, check_secrets, secrets_input
from .wire import ReplyInbox, RetryingPublisher, RetryPolicy

_STALE_KEY_REASONS: Final = frozenset({Reason.UNKNOWN_SEAL_KEY, Reason.INVALID_SEALED_SECRETS})
Secrets = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Draft:
    """A command without its secrets and ids: rebuilt (new id, fresh seal) on a resend.

    ``verb`` is needed only where the payload type does not imply it (``check``).
    """

    payload_type: type[Payload]
    fields: dict[str, Any]
    connection_id: UUID
    correlation_id: str | None
    verb: Verb | None = None


class CommandChannel:
    """Commands for one tenant and actor over one connected NATS client."""

    def __init__(
        self,
        nc: Client,
        *,
        tenant: str,
        actor_id: str,
        timeout_s: float = 10.0,
        allow_plaintext: bool = False,
        publisher: RetryingPublisher | None = None,
    ) -> None:
        """Wrap a connected client (whose inboxes lie under the tenant's prefix: ``nats.
        connect(..., inbox_prefix=bus.tenant_inbox_prefix(tenant))``, as ``Producer.
        connect`` does); call ``start()`` before use."""
        if not is_valid_tenant(tenant):
            raise ValueError("the tenant must match [a-z0-9_-]{1,64}")
        if not reply_allowed(tenant, f"{nc.new_inbox()}.reply"):
            raise ValueError(
                "pools answer only under the tenant's inbox prefix: connect with "
                f"inbox_prefix={tenant_inbox_prefix(tenant)!r}"
            )
        self.tenant, self.actor_id, self.timeout_s = tenant, actor_id, timeout_s
        self._nc = nc
        self._allow_plaintext = allow_plaintext
        self._keys = SealKeyCache(nc.jetstream())
        self._inbox = ReplyInbox(nc)
        self._publisher = publisher or RetryingPublisher(
            nc.jetstream(), COMMAND_STREAM, RetryPolicy()
        )

    async def start(self) -> None:
        """Subscribe the reply inbox (before any command is published)."""
        await self._inbox.start()

    async def stop(self) -> None:
        await self._inbox.stop()

    async def seal(self, secrets: Secrets, connection_id: UUID | str) -> SecretsInput:
        """Secrets for a payload: sealed for that connection, or plaintext when allowed."""
        key = None if self._allow_plaintext else await self._keys.current()
        return secrets_input(secrets, key, str(to_uuid(connection_id)))

    def command(
        self,
        payload: Payload,
        connection_id: UUID | str,
        *,
        correlation_id: str | None = None,
        command_id: UUID | None = None,
        reply_to: str | None = None,
        verb: Verb | None = None,
    ) -> Command:
        """A command from this channel's actor and tenant, issued now; its type is
        ``verb``, by default the one the payload's type implies (``building.verb_of``)."""
        return build_command(
            payload,
            to_uuid(connection_id),
            tenant=self.tenant,
            actor_id=self.actor_id,
            command_id=command_id or uuid4(),
            correlation_id=correlation_id,
            reply_to=reply_to,
            verb=verb,
        )

    async def send(self, command: Command) -> PubAck:
        """Publish without waiting for the outcome; JetStream stores it once per command id."""
        body = command_body(command)
        if len(body) > MAX_COMMAND_BYTES:
            raise InvalidCommand(f"the command exceeds the {MAX_COMMAND_BYTES}-byte limit")
        subject = command_subject(command.actor.tenant, command.type, str(command.connection_id))
        return await self._publisher.publish(subject, body, str(command.command_id))

    async def request(
        self, draft: Draft, secrets: Secrets | None, timeout_s: float | None
    ) -> CommandOutcome:
        """Publish the drafted command and return its outcome (see the module doc)."""
        if secrets is not None:
            check_secrets(secrets)  # before any I/O: bad input fails fast
        key = None if secrets is None or self._allow_plaintext else await self._keys.current()
        outcome = await self._round_trip(draft, secrets, key, timeout_s)
        if key is None or outcome.reason not in _STALE_KEY_REASONS:
            return outcome
        fresh = await self._keys.refresh()
        if fresh == key:
            return outcome
        return await self._round_trip(draft, secrets, fresh, timeout_s)

    async def _round_trip(
        self,
        draft: Draft,
        secrets: Secrets | None,
        key: SealKeyInfo | None,
        timeout_s: float | None,
    ) -> CommandOutcome:
        command_id = uuid4()
        command = self._build(draft, secrets, key, command_id)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with self._inbox.expect(command_id.hex) as reply:
            await self.send(command)
            try:
                data = await asyncio.wait_for(reply, timeout)
            except TimeoutError:
                raise OutcomeTimeout(command_id, draft.connection_id, timeout) from None
        return parse_outcome(data, command_id)

    def _build(
        self, draft: Draft, secrets: Secrets | None, key: SealKeyInfo | None, command_id: UUID
    ) -> Command:
        fields = dict(draft.fields)
        if secrets is not None:
            fields["secrets"] = secrets_input(secrets, key, str(draft.connection_id))
        return self.command(
            validated(draft.payload_type, fields),
            draft.connection_id,
            correlation_id=draft.correlation_id,
            command_id=command_id,
            reply_to=self._inbox.subject_for(command_id.hex),
            verb=draft.verb,
        )
