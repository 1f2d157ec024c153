"""``Producer``: publish connection commands and await their outcomes.

    async with await Producer.connect(url, tenant="default", actor_id="ops") as producer:
        outcome = await producer.create(name="orders-db", kind="postgres", config={...},
                                        auth={"method": "basic", "username": "app"},
                                        secrets={"password": password})

Contract:

- every command has a fresh uuid4 ``command_id``, sent as ``Nats-Msg-Id``; a lost
  publish ack is retried with the same bytes and id, so JetStream stores it once
  (``PublishFailed`` when it never gets an ack);
- ``create``/``update``/``rotate``/``delete`` (``writes``) and ``test``/
  ``test_draft``/``check`` (``probes``) wait on a unique reply subject under
  the tenant's inbox prefix (``_INBOX.tenant.<tenant>``; pools answer no other),
  subscribed before publishing, and return the ``CommandOutcome``; a
  rejection is returned, not raised; no outcome within the timeout raises
  ``OutcomeTimeout`` (the command is stored and may still be handled); a probe
  waits at least ``probes.PROBE_OUTCOME_WAIT_S`` unless told otherwise;
- secrets are sealed for the connection id with the encryptor's seal key from KV
  (cached, refetched once on a stale-key rejection); they are never logged, never
  in an error, never kept on the producer;
- bad input raises ``InvalidCommand`` before anything is published;
- ``send`` publishes a command built with ``command`` and ``seal``, without waiting.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

import nats.errors
import structlog
from nats.aio.client import Client

from connmgr.schemas import bus

from .errors import ProducerError
from .probes import ConnectionProbes
from .writes import ConnectionWrites

log = structlog.get_logger(__name__)


async def _log_nats_error(error: Exception) -> None:
    """nats-py reports connection trouble here; only its type is logged."""
    log.debug("nats_error", error=type(error).__name__)


async def _connect_nats(nats_url: str, tenant: str, timeout_s: float, token: str | None) -> Client:
    """A connected client within ``timeout_s`` (nats-py alone would retry for minutes),
    whose reply inboxes lie under the tenant's prefix (the only ones pools answer).

    ``token`` is the tenant's connmgr token: the broker's auth callout turns it into
    a NATS identity confined to the tenant's subjects (none: an open dev broker).
    """
    nc = Client()
    servers = nats_url.split(",")
    connecting = nc.connect(
        servers=servers,
        name="connmgr-producer",
        error_cb=_log_nats_error,
        inbox_prefix=bus.tenant_inbox_prefix(tenant),
        token=token or None,
    )
    try:
        await asyncio.wait_for(connecting, timeout_s)
    except (nats.errors.Error, OSError, TimeoutError) as error:
        await nc.close()
        timed_out = isinstance(error, TimeoutError)
        why = f"within {timeout_s:g}s" if timed_out else type(error).__name__
        raise ProducerError(f"cannot connect to NATS ({why})") from None
    return nc


class Producer(ConnectionWrites, ConnectionProbes):
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
        token: str | None = None,
    ) -> Self:
        """Connect (comma-separated URLs) and start; ``ProducerError`` when unreachable.

        ``timeout_s`` bounds the first connect and is the default wait for an outcome;
        once connected, the client reconnects on its own (through the auth callout
        again when its credential expires). ``token``: the tenant's NATS token.
        """
        nc = await _connect_nats(nats_url, tenant, timeout_s, token)
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
