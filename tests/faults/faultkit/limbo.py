"""Catching workers between their commit and their ack.

The command stream has work-queue retention: a message leaves it when acked.
So, while every encryptor is frozen (SIGSTOP), a message still in the stream
whose command already has an outcome row was committed and not yet acked: it is
in *limbo*. Freezing at arbitrary moments until some limbo is seen, then
SIGKILLing the frozen workers, is a crash "after commit, before ack" that the
test can name message by message.
"""

from __future__ import annotations

import signal

from nats.js.errors import NotFoundError
from sqlalchemy import select

from connmgr.schemas.bus import COMMAND_STREAM, MSG_ID_HEADER
from connmgr.storage.tables import handled_commands
from faultkit.cluster import Cluster
from faultkit.processes import ManagedProcess


async def commands_in_stream(cluster: Cluster) -> list[str]:
    js = cluster.nc.jetstream()
    state = (await js.stream_info(COMMAND_STREAM)).state
    ids: list[str] = []
    for sequence in range(state.first_seq, state.last_seq + 1):
        try:
            message = await js.get_msg(COMMAND_STREAM, sequence)
        except NotFoundError:
            continue  # acked meanwhile: work-queue retention removed it
        if message.headers and MSG_ID_HEADER in message.headers:
            ids.append(message.headers[MSG_ID_HEADER])
    return ids


async def in_limbo(cluster: Cluster) -> set[str]:
    """Commands still in the stream whose outcome is committed. Freeze the workers first."""
    waiting = await commands_in_stream(cluster)
    if not waiting:
        return set()
    async with cluster.engine.connect() as connection:
        rows = await connection.execute(
            select(handled_commands.c.command_id).where(handled_commands.c.command_id.in_(waiting))
        )
        return {row.command_id for row in rows}


def freeze(workers: list[ManagedProcess]) -> None:
    for worker in workers:
        worker.signal(signal.SIGSTOP)


def thaw(workers: list[ManagedProcess]) -> None:
    for worker in workers:
        worker.signal(signal.SIGCONT)
