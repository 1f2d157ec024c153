"""``CommandChannel``: the transport under ``Producer`` for one tenant and actor.

It composes the sealing policy (``sealing.Sealer``), a retrying publisher and a
reply inbox (``wire``). It builds commands (``command``), publishes them once per
command id (``send``) and runs a request: build the command an intent describes,
publish it, then await its outcome on the reply inbox (``request``). On an
``unknown_seal_key`` or ``invalid_sealed_secrets`` rejection the seal key is
fetched again and, if it changed, the command is resent once, sealed anew, with
a new command id. Secrets are held only for the duration of a call.

Traces: a request is a ``<verb> command`` span (child of the caller's current
span, if any) and every command it publishes carries that span's W3C
``traceparent`` header; ``send`` alone carries the caller's current one. With no
tracer provider installed nothing is started and the caller's current
``traceparent``, if any, is sent as it is (``connmgr.tracing``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final
from uuid import UUID, uuid4

from nats.aio.client import Client
from nats.js.api import PubAck
from opentelemetry.trace import SpanKind

from connmgr.schemas.bus.inboxes import reply_allowed, tenant_inbox_prefix
from connmgr.schemas.bus.streams import MAX_COMMAND_BYTES
from connmgr.schemas.bus.subjects import command_subject, is_valid_tenant
from connmgr.schemas.commands import SecretsInput
from connmgr.schemas.outcomes import CommandOutcome, Reason
from connmgr.schemas.sealed import SealKeyInfo
from connmgr.tracing.spans import current_traceparent, hop

from .building import (
    Command,
    CommandIntent,
    Payload,
    Verb,
    build_command,
    command_body,
    parse_outcome,
    to_uuid,
    validated,
)
from .errors import InvalidCommand, OutcomeTimeout
from .sealing import Sealer, check_secrets, secrets_input
from .wire import ReplyInbox, RetryingPublisher

_STALE_KEY_REASONS: Final = frozenset({Reason.UNKNOWN_SEAL_KEY, Reason.INVALID_SEALED_SECRETS})


class CommandChannel:
    """Commands for one tenant and actor over one connected NATS client."""

    def __init__(
        self,
        nc: Client,
        *,
        tenant: str,
        actor_id: str,
        sealer: Sealer,
        publisher: RetryingPublisher,
    ) -> None:
        """Wrap a connected client (whose inboxes lie under the tenant's prefix: ``nats.
        connect(..., inbox_prefix=tenant_inbox_prefix(tenant))``, as ``Producer.
        connect`` does); call ``start()`` before use."""
        if not is_valid_tenant(tenant):
            raise ValueError("the tenant must match [a-z0-9_-]{1,64}")
        if not reply_allowed(tenant, f"{nc.new_inbox()}.reply"):
            raise ValueError(
                "pools answer only under the tenant's inbox prefix: connect with "
                f"inbox_prefix={tenant_inbox_prefix(tenant)!r}"
            )
        self.tenant, self.actor_id = tenant, actor_id
        self._sealer = sealer
        self._inbox = ReplyInbox(nc)
        self._publisher = publisher

    async def start(self) -> None:
        """Subscribe the reply inbox (before any command is published)."""
        await self._inbox.start()

    async def stop(self) -> None:
        await self._inbox.stop()

    async def seal(self, secrets: Mapping[str, str], connection_id: UUID | str) -> SecretsInput:
        """Secrets for a payload: sealed for that connection, or plaintext when allowed."""
        return await self._sealer.seal(secrets, to_uuid(connection_id))

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
        """Publish without waiting for the outcome; JetStream stores it once per command id.
        The command carries the current span's ``traceparent``, if any."""
        body = command_body(command)
        if len(body) > MAX_COMMAND_BYTES:
            raise InvalidCommand(f"the command exceeds the {MAX_COMMAND_BYTES}-byte limit")
        subject = command_subject(command.actor.tenant, command.type, str(command.connection_id))
        command_id = str(command.command_id)
        return await self._publisher.publish(subject, body, command_id, current_traceparent())

    async def request(self, intent: CommandIntent, timeout_s: float) -> CommandOutcome:
        """Publish the command ``intent`` describes and return its outcome (module doc)."""
        if intent.secrets is not None:
            check_secrets(intent.secrets)  # before any I/O: bad input fails fast
        name = f"{intent.verb} command"
        parent = current_traceparent()
        with hop(name, parent, SpanKind.PRODUCER, {"connmgr.verb": intent.verb}):
            return await self._request(intent, timeout_s)

    async def _request(self, intent: CommandIntent, timeout_s: float) -> CommandOutcome:
        key = None if intent.secrets is None else await self._sealer.key()
        outcome = await self._round_trip(intent, key, timeout_s)
        if key is None or outcome.reason not in _STALE_KEY_REASONS:
            return outcome
        fresh = await self._sealer.newer_key(key)
        if fresh is None:
            return outcome
        return await self._round_trip(intent, fresh, timeout_s)

    async def _round_trip(
        self, intent: CommandIntent, key: SealKeyInfo | None, timeout_s: float
    ) -> CommandOutcome:
        command_id = uuid4()
        command = self._build(intent, key, command_id)
        with self._inbox.expect(command_id.hex) as reply:
            await self.send(command)
            try:
                data = await asyncio.wait_for(reply, timeout_s)
            except TimeoutError:
                raise OutcomeTimeout(command_id, intent.connection_id, timeout_s) from None
        return parse_outcome(data, command_id)

    def _build(self, intent: CommandIntent, key: SealKeyInfo | None, command_id: UUID) -> Command:
        fields = dict(intent.fields)
        if intent.secrets is not None:
            fields["secrets"] = secrets_input(intent.secrets, key, str(intent.connection_id))
        return self.command(
            validated(intent.payload_type, fields),
            intent.connection_id,
            correlation_id=intent.correlation_id,
            command_id=command_id,
            reply_to=self._inbox.subject_for(command_id.hex),
            verb=intent.verb,
        )
