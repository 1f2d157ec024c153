"""Catching the encryptor replicas at a named moment of their batch, then freezing it.

All replicas are frozen (SIGSTOP) right after some batch commits, and a *census*
is taken while nothing moves:

- ``limbo``: commands whose outcome is committed but whose message is still in
  the work-queue stream (acked messages leave it): committed, not yet acked;
- ``uncommitted``: messages delivered and unacknowledged (``num_ack_pending``)
  that are not in limbo: fetched by a replica, not yet committed.

A replica holds at most one batch (``batch_size`` messages), so more uncommitted
messages than that means every replica is in the middle of a batch. Acks a
replica wrote just before it froze may still be on their way to the broker, so
the census is taken again until two in a row agree.
If the census is not the one wanted, the replicas are thawed and the next moment
tried, a bounded number of times; otherwise they are left frozen for the fault.

Right after its commit a replica replies, acks and fetches its next batch, so at
that instant it holds nothing uncommitted. A moment that needs every replica
mid-batch is therefore frozen a little *after* the commit: ``lags`` are cycled
through, one per attempt, so the freeze samples several phases of the batch
instead of relying on how slowly the commit is noticed (which differs from one
machine to the next).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from nats.js.errors import NotFoundError
from sqlalchemy import select

from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.storage.tables import handled_commands
from faultkit.cluster import Cluster
from faultkit.observe import encryptor_stats
from faultkit.processes import ManagedProcess
from faultkit.publisher import History
from faultkit.scenario import handled_count
from support.waiting import wait_for

RECENT = 600  # outcomes looked at: far more than the replicas can hold unacked


@dataclass(frozen=True, slots=True)
class Census:
    limbo: set[str]
    ack_pending: int

    @property
    def uncommitted(self) -> int:
        return self.ack_pending - len(self.limbo)


def freeze(workers: list[ManagedProcess]) -> None:
    for worker in workers:
        worker.signal(signal.SIGSTOP)


def thaw(workers: list[ManagedProcess]) -> None:
    for worker in workers:
        worker.signal(signal.SIGCONT)


async def _still_in_stream(cluster: Cluster, sequence: int) -> bool:
    try:
        await cluster.nc.jetstream().get_msg(COMMAND_STREAM, sequence)
    except NotFoundError:
        return False
    return True


async def census(cluster: Cluster, history: History) -> Census:
    """What the frozen replicas hold. Freeze them first."""
    async with cluster.engine.connect() as connection:
        rows = await connection.execute(
            select(handled_commands.c.command_id)
            .order_by(handled_commands.c.handled_at.desc())
            .limit(RECENT)
        )
        recent = [row.command_id for row in rows if row.command_id in history.publications]
    sequences = {cid: history.publications[cid].sequence for cid in recent}
    known = {cid: seq for cid, seq in sequences.items() if seq is not None}
    present = await asyncio.gather(*(_still_in_stream(cluster, s) for s in known.values()))
    stats = await encryptor_stats(cluster.nc)
    limbo = {cid for cid, there in zip(known, present, strict=True) if there}
    return Census(limbo=limbo, ack_pending=stats.ack_pending)


async def settled_census(cluster: Cluster, history: History) -> Census:
    """The census once what the frozen replicas already sent has reached the broker."""
    taken: list[Census] = []

    async def stable() -> Census | None:
        taken.append(await census(cluster, history))
        return taken[-1] if len(taken) > 1 and taken[-1] == taken[-2] else None

    found = await wait_for(stable, timeout=10, interval=0.2, message="the census settles")
    assert found is not None
    return found


JUST_AFTER: Final = (0.0,)
"""Freeze as soon as the commit is seen: catches committed-but-unacked messages."""
ACROSS_THE_BATCH: Final = (0.0, 0.01, 0.03, 0.06, 0.1, 0.15)
"""Seconds after the commit, cycled: catches the committer's next batch in flight."""


async def catch(
    cluster: Cluster,
    history: History,
    wanted: Callable[[Census], bool],
    lags: Sequence[float] = JUST_AFTER,
    attempts: int = 80,
) -> Census:
    """Freeze every replica a lag after a commit until the census is ``wanted``;
    returns it with the replicas still frozen."""
    for attempt in range(attempts):
        before = await handled_count(cluster)

        async def committed(before: int = before) -> bool:
            return await handled_count(cluster) > before

        await wait_for(committed, timeout=60, interval=0.001, message="a batch commits")
        await asyncio.sleep(lags[attempt % len(lags)])
        freeze(cluster.encryptors)
        found = await settled_census(cluster, history)
        if wanted(found):
            return found
        thaw(cluster.encryptors)
    raise AssertionError(f"the replicas were never caught at the wanted moment in {attempts}")
