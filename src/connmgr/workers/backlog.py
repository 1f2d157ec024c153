"""A pool's backlog, read on an interval for its metrics (``workers/metrics.py``).

Every ``metrics_interval_s`` (a setting, 15 s by default; never per message) a
worker process reads the consumer info of its pool's durables (``num_pending``:
not yet delivered; ``num_ack_pending``: delivered, not yet acked) into
``connmgr_consumer_pending_messages`` and ``connmgr_consumer_ack_pending_messages``,
and the relay reads the log's head position minus its checkpoint into
``connmgr_relay_lag_events``. The reading runs beside the pool's loop, so a relay
stuck on an absent broker still shows its lag growing. A reading that fails (the
broker or the database is away) is logged at debug level and leaves the last
figures in place: readiness, not these gauges, says a dependency is away.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.consumers import POOL_CONSUMERS, RELAY_CHECKPOINT
from connmgr.storage.relay_checkpoint import read_relay_lag
from connmgr.workers.metrics import set_consumer_backlog, set_relay_lag

log = structlog.get_logger("connmgr.metrics")


async def read_backlog(js: JetStreamContext, engine: AsyncEngine, pool: str) -> None:
    """One reading of ``pool``'s backlog into its gauges."""
    for stream, spec in POOL_CONSUMERS.get(pool, ()):
        info = await js.consumer_info(stream, spec.durable)
        set_consumer_backlog(spec.durable, info.num_pending or 0, info.num_ack_pending or 0)
    if pool == "relay":
        async with engine.connect() as connection:
            set_relay_lag(await read_relay_lag(connection, RELAY_CHECKPOINT))


async def keep_reading_backlog(
    js: JetStreamContext,
    engine: AsyncEngine,
    pool: str,
    interval_s: float,
    stop: asyncio.Event,
) -> None:
    """Read ``pool``'s backlog every ``interval_s`` until ``stop``; a failure is no crash."""
    while not stop.is_set():
        try:
            await read_backlog(js, engine, pool)
        except Exception as error:
            log.debug("backlog_unread", pool=pool, error=type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
