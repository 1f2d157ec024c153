"""What "ready" means for each worker process: connected, bound, and its database answers.

``readiness_check(pool, nc, engine)`` is the ``health.Check`` of one process.
Ready means, in this order (the first failure is the reason):

1. the NATS client is connected (``nats_disconnected``);
2. each durable the pool pulls from exists on the server, read with the pool's
   own ``CONSUMER.INFO`` right (``consumer_missing: <stream>/<durable>``), and
   the relay's event stream exists (``stream_missing: <stream>``); a broker
   that does not answer in ``CHECK_TIMEOUT_S`` is ``nats_unavailable``;
3. the pool's database answers ``SELECT 1`` (``database_unreachable``); every
   pool uses one, the auth callout for its token store.

The auth callout has no durable: its subscription is replayed by the client on
every reconnection, so connected means subscribed. Every check reads with the
pool's own rights (``infra/nats/accounts.conf`` grants each pool INFO of its
own durables and of the streams), so a check cannot pass on the operator's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.health import Check
from connmgr.schemas.bus.consumers import POOL_CONSUMERS
from connmgr.schemas.bus.streams import EVENT_STREAM
from connmgr.storage.database import ping

CHECK_TIMEOUT_S: Final = 3.0
POOL_DURABLES: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    pool: tuple((stream, spec.durable) for stream, spec in consumers)
    for pool, consumers in POOL_CONSUMERS.items()
}
"""The durables each pool pulls from; a pool not named here has none."""
POOL_STREAMS: Final[Mapping[str, tuple[str, ...]]] = {"relay": (EVENT_STREAM,)}
"""Streams a pool writes to without a durable of its own."""


async def _broker_reason(pool: str, nc: NatsClient) -> str | None:
    js = nc.jetstream(timeout=CHECK_TIMEOUT_S)
    for stream, durable in POOL_DURABLES.get(pool, ()):
        try:
            await js.consumer_info(stream, durable)
        except NotFoundError:
            return f"consumer_missing: {stream}/{durable}"
    for stream in POOL_STREAMS.get(pool, ()):
        try:
            await js.stream_info(stream)
        except NotFoundError:
            return f"stream_missing: {stream}"
    return None


def readiness_check(pool: str, nc: NatsClient, engine: AsyncEngine) -> Check:
    async def check() -> str | None:
        if not nc.is_connected:
            return "nats_disconnected"
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                reason = await _broker_reason(pool, nc)
        except Exception:  # timeout, connection lost meanwhile, no responders
            return "nats_unavailable"
        if reason is not None:
            return reason
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await ping(engine)
        except Exception:
            return "database_unreachable"
        return None

    return check
