"""Outcomes the test writes into the log itself, the way a worker does.

``append_outcome`` takes the chain head, appends a ``CommandRejected`` (with its
handled-command row) for a command id of its own, and commits; ``while_held``
runs before the commit, with the transaction open: a *lower position held open*
while other writers want to append. The command id joins the history's ``direct`` set, so
the checker holds it to I1, I2 and I7 like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from connmgr.schemas.outcomes import Reason, Rejection
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender
from connmgr.workers.command_records import append_rejection
from faultkit.cluster import Cluster
from faultkit.publisher import History
from support.commands import TENANT


async def _nothing() -> None:
    return None


async def append_outcome(
    cluster: Cluster, history: History, while_held: Callable[[], Awaitable[None]] = _nothing
) -> int:
    """Append one outcome; returns its event's position in the log."""
    command_id = uuid.uuid4()
    history.direct.add(str(command_id))
    rejection = Rejection(Reason.INVALID_COMMAND, "written by the fault test")
    async with write_transaction(cluster.engine) as connection:
        appender = await Appender.begin(connection)
        await append_rejection(connection, appender, TENANT, rejection, identity=command_id)
        await appender.finish()
        await while_held()
    return appender.head.position
