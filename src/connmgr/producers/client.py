"""``Producer``: publish connection commands and await their outcomes.

    async with await Producer.connect(url, tenant="default", actor_id="ops") as producer:
        outcome = await producer.create(name="orders-db", kind="postgres", config={...},
                                        auth={"method": "basic", "username": "app"},
                                        secrets={"password": password})

Contract:

- every command has a fresh uuid4 ``command_id``, sent as ``Nats-Msg-Id``; a lost
  publish ack is retried with the same bytes and id, so JetStream stores it once
  (``PublishFailed`` when it never gets an ack);
- ``create``/``update``/``rotate``/``delete`` wait on a unique ``_INBOX.`` reply
  subject, subscribed before publishing, and return the ``CommandOutcome``; a
  rejection is returned, not raised; no outcome within the timeout raises
  ``OutcomeTimeout`` (the command is stored and may still be handled);
- secrets are sealed for the connection id with the encryptor's seal key from KV
  (cached, refetched once on a stale-key rejection); they are never logged, never
  in an error, never kept on the producer;
- bad input raises ``InvalidCommand`` before anything is published;
- ``send`` publishes a command built with ``command`` and ``seal``, without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

import nats.errors
import structlog
from nats.aio.client import Client

from connmgr.schemas.commands import CreatePayload, DeletePayload, RotatePayload, UpdatePayload
from connmgr.schemas.outcomes import CommandOutcome

from .building import given, to_uuid
from .channel import CommandChannel, Draft, Secrets
from .errors import ProducerError

log = structlog.get_logger(__name__)


async def _log_nats_error(error: Exception) -> None:
    """nats-py reports connection trouble here; only its type is logged."""
    log.debug("nats_error", error=type(error).__name__)


async def _connect_nats(nats_url: str, timeout_s: float) -> Client:
    """A connected client within ``timeout_s`` (nats-py alone would retry for minutes)."""
    nc = Client()
    servers = nats_url.split(",")
    connecting = nc.connect(servers=servers, name="connmgr-producer", error_cb=_log_nats_error)
    try:
        await asyncio.wait_for(connecting, timeout_s)
    except (nats.errors.Error, OSError, TimeoutError) as error:
        await nc.close()
        timed_out = isinstance(error, TimeoutError)
        why = f"within {timeout_s:g}s" if timed_out else type(error).__name__
        raise ProducerError(f"cannot connect to NATS ({why})") from None
    return nc


class Producer(CommandChannel):
    """The Python client of the write side, for one tenant and actor (see module doc)."""

    _owns_connection = False

    @classmethod
    async def connect(
        cls,
        nats_url: str,
        *,
        tenant: str,
        actor_id: str,
        timeout_s: float = 10.0,
        allow_plaintext: bool = False,
    ) -> Self:
        """Connect (comma-separated URLs) and start; ``ProducerError`` when unreachable.

        ``timeout_s`` bounds the first connect and is the default wait for an outcome;
        once connected, the client reconnects on its own.
        """
        nc = await _connect_nats(nats_url, timeout_s)
        producer = cls(
            nc,
            tenant=tenant,
            actor_id=actor_id,
            timeout_s=timeout_s,
            allow_plaintext=allow_plaintext,
        )
        producer._owns_connection = True
        try:
            await producer.start()
        except BaseException:
            await nc.close()
            raise
        return producer

    async def close(self) -> None:
        """Stop listening for outcomes; close the connection if ``connect`` opened it."""
        await self.stop()
        if self._owns_connection:
            await self._nc.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

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
        fields = given(
            name=name,
            kind=kind,
            config=config,
            auth=auth,
            template=template,
            health_check=health_check,
            tags=list(tags),
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

        Changing host, port, kind or username needs new ``secrets`` (SECURITY.md rule 2).
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
