"""``HeartbeatWatcher.unless_foreign``: a foreign server ends the wait, and the abandoned
command's late error is retrieved (asyncio never reports it, with its driver text)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.mongodb_heartbeat import NOT_MONGODB, HeartbeatWatcher


async def test_a_foreign_server_ends_the_wait_and_the_late_error_is_retrieved() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    finished = asyncio.Event()

    async def stubborn_command() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            # As pymongo may: the cancelled command ends with an error of its own.
            raise RuntimeError("server selection timed out: driver text") from None
        finally:
            finished.set()
        return "never"

    watcher = HeartbeatWatcher()
    loop.call_soon(watcher._mark_foreign)
    try:
        with pytest.raises(CheckFailed) as failure:
            await watcher.unless_foreign(stubborn_command())
        await finished.wait()
        await asyncio.sleep(0)  # let the done callbacks run
        gc.collect()
    finally:
        loop.set_exception_handler(None)

    assert (failure.value.detail, reported) == (NOT_MONGODB, [])


async def test_an_answer_before_any_failed_heartbeat_is_returned() -> None:
    async def hello() -> str:
        return "hello"

    assert await HeartbeatWatcher().unless_foreign(hello()) == "hello"
