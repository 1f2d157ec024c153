"""``Producer``: publish connection commands and await their outcomes.

    spec = ConnectionSpec(name="orders-db", kind="postgres", config={...},
                          auth={"method": "basic", "username": "app"},
                          secrets={"password": password})
    async with await Producer.connect(url, tenant="default", actor_id="ops") as producer:
        tested = await producer.test_draft(spec)  # test before save
        outcome = await producer.create(spec)

Contract:

- a connection is described by one ``ConnectionSpec`` (``schemas/connection_spec.py``),
  valid by construction, for ``create`` and ``test_draft``; ``update`` takes
  ``ConnectionChanges`` (the fields to change), or a whole spec;
- every command has a fresh uuid4 ``command_id``, sent as ``Nats-Msg-Id``; a lost
  publish ack is retried with the same bytes and id, so JetStream stores it once
  (``PublishFailed`` when it never gets an ack);
- each command waits on a unique reply subject under the tenant's inbox prefix
  (``_INBOX.tenant.<tenant>``; pools answer no other), subscribed before
  publishing, and returns the ``CommandOutcome``; a rejection is returned, not
  raised; no outcome within the timeout raises ``OutcomeTimeout`` (the command is
  stored and may still be handled); a test or check waits at least
  ``probes.PROBE_OUTCOME_WAIT_S`` unless told otherwise;
- secrets are sealed for the connection id with the encryptor's seal key from KV
  (cached, refetched once on a stale-key rejection); they are never logged, never
  in an error, never kept on the producer;
- bad input (ids, the secrets of ``rotate``, a command over the size limit) raises
  ``InvalidCommand`` before anything is published.

``Producer`` holds no command logic of its own: it composes its ``channel``
(``CommandChannel``: sealing, a retrying publisher, the reply inbox) with the
intent builders of ``writes`` and ``probes``. A command built by hand goes through
the channel: ``channel.seal``, ``channel.command``, then ``channel.send``, which
publishes without waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Literal, Self
from uuid import UUID, uuid4

from nats.aio.client import Client

from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.schemas.connection_spec import ConnectionChanges, ConnectionSpec
from connmgr.schemas.outcomes import CommandOutcome

from . import probes, writes
from .building import CommandIntent, to_uuid
from .channel import CommandChannel
from .connecting import connect_nats
from .sealing import Sealer, SealKeyCache
from .wire import RetryingPublisher, RetryPolicy


class Producer:
    """The Python client of the write side, for one tenant and actor (see module doc)."""

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
        """Over a connected client whose inboxes lie under the tenant's prefix (as
        ``connect`` makes it); call ``start()`` before use. ``timeout_s``: the default
        wait for an outcome; ``allow_plaintext``: send secrets unsealed (dev stacks)."""
        js = nc.jetstream()
        self.channel = CommandChannel(
            nc,
            tenant=tenant,
            actor_id=actor_id,
            sealer=Sealer(None if allow_plaintext else SealKeyCache(js)),
            publisher=publisher or RetryingPublisher(js, COMMAND_STREAM, RetryPolicy()),
        )
        self.timeout_s = timeout_s
        self._nc = nc
        self._owns_connection = False

    @classmethod
    async def connect(
        cls,
        nats_url: str,
        *,
        tenant: str,
        actor_id: str,
        timeout_s: float = 10.0,
        allow_plaintext: bool = False,
        token: str | None = None,
    ) -> Self:
        """Connect (comma-separated URLs) and start; ``ProducerError`` when unreachable.

        ``timeout_s`` bounds the first connect and is the default wait for an outcome;
        once connected, the client reconnects on its own (through the auth callout
        again when its credential expires). ``token``: the tenant's NATS token.
        """
        nc = await connect_nats(nats_url, tenant, timeout_s, token)
        try:
            producer = cls(
                nc,
                tenant=tenant,
                actor_id=actor_id,
                timeout_s=timeout_s,
                allow_plaintext=allow_plaintext,
            )
            producer._owns_connection = True
            await producer.start()
        except BaseException:
            await nc.close()
            raise
        return producer

    @property
    def tenant(self) -> str:
        return self.channel.tenant

    async def create(
        self,
        spec: ConnectionSpec,
        *,
        connection_id: UUID | str | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Create ``spec``; its id is a new uuid4 unless given (``outcome.connection_id``)."""
        intent = writes.create(spec, _id_or_new(connection_id), correlation_id)
        return await self._write(intent, timeout_s)

    async def update(
        self,
        connection_id: UUID | str,
        changes: ConnectionChanges | ConnectionSpec,
        *,
        expected_version: int | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Change the fields ``changes`` gives (``config`` and ``auth`` replace whole).

        A whole ``ConnectionSpec`` makes the connection that spec (but its template).
        Changing host, port, kind or username needs new secrets (``docs/security.md``,
        "A changed destination asks for the secrets again").
        """
        intent = writes.update(changes, to_uuid(connection_id), expected_version, correlation_id)
        return await self._write(intent, timeout_s)

    async def rotate(
        self,
        connection_id: UUID | str,
        secrets: Mapping[str, str],
        *,
        expected_version: int | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Replace the connection's secrets with ``secrets`` (all of them, not a merge)."""
        intent = writes.rotate(secrets, to_uuid(connection_id), expected_version, correlation_id)
        return await self._write(intent, timeout_s)

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
        intent = writes.delete(to_uuid(connection_id), expected_version, reason, correlation_id)
        return await self._write(intent, timeout_s)

    async def test_draft(
        self,
        spec: ConnectionSpec,
        *,
        connection_id: UUID | str | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Test ``spec`` without storing it (test before save); the outcome's ``result`` is
        what the test found. The draft's id is a new uuid4 unless given."""
        intent = probes.draft_test(spec, _id_or_new(connection_id), correlation_id)
        return await self._probe(intent, timeout_s)

    async def test(
        self,
        connection_id: UUID | str,
        *,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Test the stored connection now; the outcome's ``result`` is what it found."""
        return await self._probe_stored("test", connection_id, correlation_id, timeout_s)

    async def check(
        self,
        connection_id: UUID | str,
        *,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Run the connection's health check now, as the schedule would."""
        return await self._probe_stored("check", connection_id, correlation_id, timeout_s)

    def probe_wait(self, timeout_s: float | None) -> float:
        """``timeout_s`` when given, else long enough for the longest check."""
        return probes.probe_wait(self.timeout_s, timeout_s)

    async def start(self) -> None:
        """Subscribe the reply inbox (before any command is published)."""
        await self.channel.start()

    async def stop(self) -> None:
        """Stop listening for outcomes; the NATS connection stays open."""
        await self.channel.stop()

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

    async def _write(self, intent: CommandIntent, timeout_s: float | None) -> CommandOutcome:
        """Send a change and await its outcome: ``timeout_s``, else the producer's default."""
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        return await self.channel.request(intent, wait_s)

    async def _probe(self, intent: CommandIntent, timeout_s: float | None) -> CommandOutcome:
        """Send a test or check and await its outcome (``probe_wait``)."""
        return await self.channel.request(intent, self.probe_wait(timeout_s))

    async def _probe_stored(
        self,
        verb: Literal["test", "check"],
        connection_id: UUID | str,
        correlation_id: str | None,
        timeout_s: float | None,
    ) -> CommandOutcome:
        intent = probes.stored(verb, to_uuid(connection_id), correlation_id)
        return await self._probe(intent, timeout_s)


def _id_or_new(connection_id: UUID | str | None) -> UUID:
    return uuid4() if connection_id is None else to_uuid(connection_id)
