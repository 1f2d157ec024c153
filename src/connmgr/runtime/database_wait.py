"""Waiting for a database that is still starting: bounded, one line per try.

``wait_for_database(engine, wait_s)`` asks ``SELECT 1`` (``storage.database.ping``)
until the database answers, each try bounded by ``TRY_TIMEOUT_S`` (a host that
drops packets answers nothing), with the runtime's growing, jittered waits
between tries (``supervision.RestartPolicy``). Each failed try is one WARNING
line, ``database_unavailable``, with the try, the seconds waited so far, the
wait before the next and the reason (``failures.describe``: no URL, no
password). After ``wait_s`` it raises ``ServiceUnavailable`` saying how long and
why; a refusal no retry can change (a wrong password, an unknown database)
raises ``DatabaseRefused`` at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.failures import OperatorError, ServiceUnavailable, describe, is_unavailable
from connmgr.runtime.supervision import RestartPolicy
from connmgr.storage.database import ping

log = structlog.get_logger("connmgr.database")

TRY_TIMEOUT_S: Final = 10.0
WAIT_BACKOFF: Final = RestartPolicy(first_delay_s=1.0, max_delay_s=10.0)
Clock = Callable[[], float]


class DatabaseRefused(OperatorError):
    """The database answered, and said no."""


async def _try(engine: AsyncEngine, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        await ping(engine)


async def wait_for_database(
    engine: AsyncEngine,
    wait_s: float,
    policy: RestartPolicy = WAIT_BACKOFF,
    clock: Clock = time.monotonic,
) -> None:
    began = clock()
    attempt = 0
    while True:
        attempt += 1
        remaining = wait_s - (clock() - began)
        try:
            await _try(engine, max(min(TRY_TIMEOUT_S, remaining), 0.5))
        except Exception as error:
            reason = describe(error)
            if not is_unavailable(error):
                raise DatabaseRefused(f"the database refused: {reason}") from None
            waited = clock() - began
            if waited >= wait_s:
                raise ServiceUnavailable(
                    f"the database did not answer in {waited:.0f} s ({attempt} tries): {reason}"
                ) from None
            delay = min(policy.delay_s(attempt), wait_s - waited)
            log.warning(
                "database_unavailable",
                attempt=attempt,
                waited_s=round(waited, 1),
                retry_in_s=round(delay, 1),
                error=reason,
            )
            await asyncio.sleep(delay)
        else:
            if attempt > 1:
                log.info("database_answered", attempt=attempt)
            return
