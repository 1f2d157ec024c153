"""The drain step: wait, with a deadline, until the system has nothing left to do.

Drained means: the ``encryptor`` consumer has no pending and no unacknowledged
message (but for ``unresolved`` ones the test keeps failing on purpose, a
poison), nor has the ``tester`` one when testers run, and the relay's checkpoint
has reached the last position of the log. The prober's consumer never drains
(the schedules keep firing): prober tests judge their samples instead.
Errors while the broker or the database come back count as "not yet".
"""

from __future__ import annotations

import time

from nats.errors import Error as NatsError
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.consumers import RELAY_CHECKPOINT, TESTER_CONSUMER
from connmgr.storage.relay_checkpoint import read_checkpoint
from connmgr.storage.tables import events
from faultkit.cluster import Cluster
from faultkit.observe import consumer_stats, encryptor_stats
from support.waiting import wait_for

TRANSIENT = (DBAPIError, OSError, NatsError)


async def relay_lag(engine: AsyncEngine) -> int:
    """How many positions of the log the relay has not yet published."""
    async with engine.connect() as connection:
        last = (await connection.execute(select(func.max(events.c.position)))).scalar_one()
        checkpoint = await read_checkpoint(connection, RELAY_CHECKPOINT)
    return int(last or 0) - checkpoint


async def drain(cluster: Cluster, *, timeout: float = 120.0, unresolved: int = 0) -> float:
    """Wait until drained; returns the seconds it took. Fails at the deadline."""
    started = time.monotonic()

    async def drained() -> bool:
        stats = await encryptor_stats(cluster.nc)
        if stats.pending or stats.ack_pending > unresolved:
            return False
        if cluster.testers and not (await consumer_stats(cluster.nc, TESTER_CONSUMER)).idle:
            return False
        return cluster.relay is None or await relay_lag(cluster.engine) == 0

    await wait_for(
        drained,
        timeout=timeout,
        interval=0.25,
        message="the encryptor (and tester) consumers and the relay are drained",
        ignoring=TRANSIENT,
    )
    return time.monotonic() - started
