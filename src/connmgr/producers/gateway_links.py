"""The command gateway's broker connections: one per bearer token, opened on first use.

The broker's auth callout turns a token into the *gateway identity* of its tenant
(``schemas/identities.py``; connect as user ``gateway``, the token as password):
that identity publishes the tenant's commands only, reads the public seal key and
receives replies under ``bus.inboxes.gateway_inbox_prefix(tenant)``. So the gateway opens
one connection per token, never one shared by tenants, and a revoked token loses
its connection within the credential's TTL (docs/decisions.md, "Auth callout").
On an open dev broker the user and password are ignored.

A connection is keyed by the token's SHA-256 (the token itself is never a key,
never logged); at most ``max_links`` are kept, the least recently used closed first.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

import nats.errors
import structlog
from nats.aio.client import Client

from connmgr.schemas.bus.inboxes import gateway_inbox_prefix
from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.schemas.identities import GATEWAY_USER

from .channel import CommandChannel
from .errors import ProducerError
from .sealing import Sealer, SealKeyCache
from .wire import RetryingPublisher, RetryPolicy

log = structlog.get_logger(__name__)

MAX_LINKS: Final = 256
CONNECT_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a write request acts for, from the token check of the runtime glue."""

    tenant: str
    actor: str
    """The token's name: the commands' ``actor.id``."""
    token: str


@dataclass(slots=True)
class GatewayLink:
    """One token's connection: its command channel and the seal key it reads."""

    nc: Client
    channel: CommandChannel
    seal_keys: SealKeyCache


async def _log_nats_error(error: Exception) -> None:
    log.debug("gateway_nats_error", error=type(error).__name__)


class GatewayLinks:
    """Connections per token (module doc); ``close()`` closes them all."""

    def __init__(self, nats_url: str, *, max_links: int = MAX_LINKS) -> None:
        self._servers = nats_url.split(",")
        self._max_links = max_links
        self._links: OrderedDict[str, GatewayLink] = OrderedDict()
        self._lock = asyncio.Lock()

    async def link(self, caller: Caller) -> GatewayLink:
        """The caller's connection, opened now if none is open; ``ProducerError``."""
        key = hashlib.sha256(caller.token.encode()).hexdigest()
        async with self._lock:
            link = self._links.get(key)
            if link is not None and not link.nc.is_closed:
                self._links.move_to_end(key)
                return link
            link = await self._open(caller)
            self._links[key] = link
            while len(self._links) > self._max_links:
                _, oldest = self._links.popitem(last=False)
                await _close(oldest)
            return link

    async def close(self) -> None:
        async with self._lock:
            links = list(self._links.values())
            self._links.clear()
        for link in links:
            await _close(link)

    async def _open(self, caller: Caller) -> GatewayLink:
        nc = Client()
        connecting = nc.connect(
            servers=self._servers,
            name=f"connmgr-gateway-{caller.tenant}",
            user=GATEWAY_USER,
            password=caller.token,
            inbox_prefix=gateway_inbox_prefix(caller.tenant),
            error_cb=_log_nats_error,
            allow_reconnect=True,
        )
        try:
            await asyncio.wait_for(connecting, CONNECT_TIMEOUT_S)
        except (nats.errors.Error, OSError, TimeoutError) as error:
            await nc.close()
            raise ProducerError(f"cannot connect to NATS ({type(error).__name__})") from None
        js = nc.jetstream()
        channel = CommandChannel(
            nc,
            tenant=caller.tenant,
            actor_id=caller.actor,
            sealer=Sealer(None),  # the gateway never seals: it forwards sealed secrets only
            publisher=RetryingPublisher(js, COMMAND_STREAM, RetryPolicy()),
        )
        await channel.start()
        return GatewayLink(nc=nc, channel=channel, seal_keys=SealKeyCache(js))


async def _close(link: GatewayLink) -> None:
    try:
        await link.channel.stop()
    finally:
        await link.nc.close()
