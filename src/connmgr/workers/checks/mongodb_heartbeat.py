"""Telling a MongoDB server from something else on its port, without waiting for a timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Final, TypeVar

from pymongo.errors import NetworkTimeout
from pymongo.monitoring import (
    ServerHeartbeatFailedEvent,
    ServerHeartbeatListener,
    ServerHeartbeatStartedEvent,
    ServerHeartbeatSucceededEvent,
)

from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.failures import CheckFailed

NOT_MONGODB: Final = "the server did not answer as MongoDB"
T = TypeVar("T")


class HeartbeatWatcher(ServerHeartbeatListener):
    """Ends the wait for a server as soon as the monitor's ``hello`` fails other than by timeout.

    The first connection proved the port open: a monitor that then cannot read a
    ``hello`` reply is talking to something that is not MongoDB. pymongo itself
    would keep retrying until server selection times out.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._foreign: asyncio.Future[None] = self._loop.create_future()

    def started(self, event: ServerHeartbeatStartedEvent) -> None: ...

    def succeeded(self, event: ServerHeartbeatSucceededEvent) -> None: ...

    def failed(self, event: ServerHeartbeatFailedEvent) -> None:
        if not isinstance(event.reply, NetworkTimeout):
            self._loop.call_soon_threadsafe(self._mark_foreign)

    def _mark_foreign(self) -> None:
        if not self._foreign.done():
            self._foreign.set_result(None)

    async def unless_foreign(self, command: Awaitable[T]) -> T:
        """``command``'s result, or ``CheckFailed`` as soon as the server proves foreign.

        An abandoned command is cancelled; its late error (pymongo may finish it
        with its own timeout instead) is retrieved by a callback, so asyncio never
        logs it as unretrieved.
        """
        task = asyncio.ensure_future(command)
        task.add_done_callback(_retrieve_error)
        waiting: set[asyncio.Future[Any]] = {task, self._foreign}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if not task.done() or task.cancelled():
            raise CheckFailed(Outcome.PROTOCOL_ERROR, NOT_MONGODB)
        return task.result()


def _retrieve_error(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
