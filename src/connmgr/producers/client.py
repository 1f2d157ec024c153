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

``Producer`` holds no command logic of its own: its commands (``ProducerCommands``,
``client_commands``) compose its ``channel`` (``CommandChannel``: sealing, a retrying
publisher, the reply inbox) with the intent builders of ``writes`` and ``probes``. A
command built by hand goes through the channel: ``channel.seal``, ``channel.command``,
then ``channel.send``, which publishes without waiting.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from nats.aio.client import Client

from connmgr.schemas.bus.streams import COMMAND_STREAM

from .channel import CommandChannel
from .client_commands import ProducerCommands
from .connecting import connect_nats
from .sealing import Sealer, SealKeyCache
from .wire import RetryingPublisher, RetryPolicy


class Producer(ProducerCommands):
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
