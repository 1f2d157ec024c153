"""Pool supervision: a failing pool is logged and started again; only a stop ends it.

``supervised(name, loop, restart)`` wraps a pool's loop: when the loop raises
(or returns before ``stop``), the failure is logged and the pool is started
afresh through ``restart`` (a new pool object: its batchers and consumers are
new; a failing restart counts as one more failure) after a jittered delay
(``connmgr.backoff``) that doubles with each failure in a row, up to
``max_delay_s``; a loop that ran ``healthy_after_s`` before failing starts the
count again. Setting ``stop`` ends it at once, also during a delay. So under
``connmgr up`` one failing pool never stops the others, and ``connmgr worker``
exits only on SIGTERM/SIGINT or a fatal configuration error.

``start_with_retries`` starts a pool the same way: a fatal configuration error
(``FATAL_START_ERRORS``: a key ring that fails closed, invalid settings, an
unknown pool) propagates, so the process exits non-zero at start-up; any other
failure (broker or database not there yet) is retried with the same backoff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, Literal

import structlog

from connmgr.backoff import Backoff, pause
from connmgr.runtime.failures import describe
from connmgr.workers.keyring import KeyringError

log = structlog.get_logger("connmgr.runtime")

PoolLoop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
Start = Callable[[], Awaitable[PoolLoop]]
FATAL_START_ERRORS: Final = (KeyringError, ValueError)
"""A key ring that fails closed; bad settings (pydantic's errors are ValueErrors)."""


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    first_delay_s: float = 1.0
    max_delay_s: float = 60.0
    healthy_after_s: float = 60.0

    def delay_s(self, failures: int) -> float:
        """Between half and all of ``first * 2**(failures-1)``, at most ``max_delay_s``."""
        return Backoff(self.first_delay_s, self.max_delay_s).delay_s(failures)


@dataclass(slots=True)
class PoolStatus:
    """What the supervision knows of its pool, for the probe port (``health``): its
    ``state`` and the ``failures`` in a row of its current run (0 once it runs)."""

    state: Literal["starting", "running", "restarting"] = "starting"
    failures: int = 0

    def failed(self, failures: int) -> None:
        self.state, self.failures = "restarting", failures

    def running(self) -> None:
        self.state = "running"


RESTART_POLICY = RestartPolicy()
"""The processes' policy (read at each call, so a test process may set its own)."""


async def start_with_retries(
    name: str,
    start: Start,
    stop: asyncio.Event,
    policy: RestartPolicy | None = None,
    status: PoolStatus | None = None,
) -> PoolLoop | None:
    """The started pool's loop; None when ``stop`` came first. Fatal errors propagate."""
    policy = policy or RESTART_POLICY
    status = status or PoolStatus()
    failures = 0
    while not stop.is_set():
        try:
            return await start()
        except FATAL_START_ERRORS:
            raise
        except Exception as error:
            failures += 1
            status.failures = failures
            delay = policy.delay_s(failures)
            log.warning(
                "pool_start_failed",
                pool=name,
                attempt=failures,
                retry_in_s=round(delay, 2),
                error=describe(error),
            )
            await pause(stop, delay)
    return None


def supervised(
    name: str,
    loop: PoolLoop,
    restart: Start,
    policy: RestartPolicy | None = None,
    status: PoolStatus | None = None,
) -> PoolLoop:
    """``loop`` run until ``stop``, started again through ``restart`` whenever it fails."""
    pool_status = status or PoolStatus()

    async def run(stop: asyncio.Event) -> None:
        nonlocal policy
        policy = policy or RESTART_POLICY
        current: PoolLoop | None = loop
        failures = 0
        while not stop.is_set():
            began = time.monotonic()
            try:
                current = current or await restart()
                pool_status.running()
                await current(stop)
            except Exception:
                log.exception("pool_failed", pool=name)
            else:
                if stop.is_set():
                    return
                log.error("pool_loop_returned", pool=name)
            current = None
            failures = 1 if time.monotonic() - began >= policy.healthy_after_s else failures + 1
            pool_status.failed(failures)
            delay = policy.delay_s(failures)
            log.warning("pool_restarting", pool=name, attempt=failures, restart_in_s=delay)
            await pause(stop, delay)

    return run
