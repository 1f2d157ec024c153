"""A worker process's health: what ``GET /livez`` and ``GET /readyz`` answer.

``HealthState`` is kept current by the process's event loop and read by the
probe port's thread (``health_server``), so a probe never waits on, and never
causes, a NATS or database request:

- ``keep_beating`` records a heartbeat every ``HEARTBEAT_S``;
- ``keep_checking`` runs the pool's readiness check (``readiness``) every
  ``CHECK_INTERVAL_S`` and keeps its last verdict, logging each change in one
  line (``readiness_changed``);
- the supervision's ``PoolStatus`` says whether the pool's loop runs.

Liveness (``liveness``) fails, so that the orchestrator restarts the process,
when the event loop is stuck (no heartbeat for ``STALL_AFTER_S``: the port's
own thread still answers, with the reason), when the pool's loop has failed
``FAILING_AFTER`` times in a row, or once the process's run has ended. It does
not fail because NATS or the database is away: a restart would not bring them
back. Readiness (``readiness``) is liveness and: not stopping, the pool's loop
running, and the last check, at most ``STALE_AFTER_S`` old, passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import structlog

from connmgr.runtime.supervision import PoolStatus

log = structlog.get_logger("connmgr.health")

HEARTBEAT_S: Final = 1.0
STALL_AFTER_S: Final = 10.0
FAILING_AFTER: Final = 5
CHECK_INTERVAL_S: Final = 2.0
STALE_AFTER_S: Final = 15.0
"""Longer than a check's own bound (``readiness.CHECK_TIMEOUT_S``) plus its interval."""

Check = Callable[[], Awaitable[str | None]]
"""One readiness check: None when ready, else a short reason (``nats_disconnected``)."""
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str | None = None


READY: Final = Verdict(ok=True)


class HealthState:
    """The answers of one worker process's probes; see the module docstring."""

    def __init__(self, status: PoolStatus, stop: asyncio.Event, clock: Clock = time.monotonic):
        self.status = status
        self._stop = stop
        self._clock = clock
        self._last_beat = clock()
        self._checked: tuple[Verdict, float] = (Verdict(False, "not_checked_yet"), clock())
        self.ended = False

    def beat(self) -> None:
        self._last_beat = self._clock()

    def record(self, verdict: Verdict) -> None:
        """Keep the verdict of a readiness check just made (one tuple: read atomically)."""
        self._checked = (verdict, self._clock())

    def liveness(self) -> Verdict:
        if self.ended:
            return Verdict(False, "ended")
        if self._clock() - self._last_beat > STALL_AFTER_S:
            return Verdict(False, "event_loop_stalled")
        if self.status.state == "restarting" and self.status.failures >= FAILING_AFTER:
            return Verdict(False, "pool_failing")
        return READY

    def readiness(self) -> Verdict:
        live = self.liveness()
        if not live.ok:
            return live
        if self._stop.is_set():
            return Verdict(False, "stopping")
        if self.status.state != "running":
            return Verdict(False, f"pool_{self.status.state}")
        verdict, checked_at = self._checked
        if self._clock() - checked_at > STALE_AFTER_S:
            return Verdict(False, "check_overdue")
        return verdict


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def keep_beating(state: HealthState) -> None:
    """Beat until cancelled: through the shutdown grace too, which is no stall."""
    while True:
        state.beat()
        await asyncio.sleep(HEARTBEAT_S)


async def keep_checking(state: HealthState, check: Check, stop: asyncio.Event) -> None:
    """Run ``check`` every ``CHECK_INTERVAL_S`` until ``stop``; a failing check is a reason."""
    previous: Verdict | None = None
    while not stop.is_set():
        try:
            reason = await check()
        except Exception as error:  # a check that breaks is a reason, never a crash
            reason = f"check_failed: {type(error).__name__}"
        verdict = READY if reason is None else Verdict(False, reason)
        state.record(verdict)
        if verdict != previous:
            log.info("readiness_changed", ready=verdict.ok, reason=verdict.reason)
            previous = verdict
        await _pause(stop, CHECK_INTERVAL_S)
