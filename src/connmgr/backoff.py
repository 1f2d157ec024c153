"""Jittered exponential backoff, from tenacity: the one policy every retry loop uses.

After failure ``n`` (1-based) a loop waits between half and all of
``min(max_s, first_s * 2**(n - 1))`` ("equal jitter"). Replicas that failed
together, on one broker or database outage, come back spread out; a wait is
never under half its nominal value, so no loop spins. Why tenacity and this
jitter: "Backoff" in ``docs/decisions.md``.

- ``Backoff.retrying(attempts, retry=...)`` retries one call (``await
  retrying(fn, *args)``): the publisher's publish, a notification's delivery.
  After the last attempt its exception is raised or its result returned, never
  tenacity's ``RetryError``.
- ``Backoff.delay_s(failures)`` is the same wait for loops that count their own
  failures across calls (the relay, pool supervision).
- ``pause(stop, seconds)`` sleeps, and returns at once when ``stop`` is set.

A leaf: it imports nothing of connmgr, so every layer may use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity
from tenacity.retry import RetryBaseT
from tenacity.wait import wait_base


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits that double from ``first_s`` up to ``max_s``, each jittered down to half."""

    first_s: float
    max_s: float = math.inf

    def __post_init__(self) -> None:
        if not 0 <= self.first_s <= self.max_s:
            raise ValueError("a backoff needs 0 <= first_s <= max_s")

    def wait(self) -> wait_base:
        """The tenacity wait: the fixed half of the nominal delay plus a random half."""
        half_first, half_max = self.first_s / 2, self.max_s / 2
        fixed = tenacity.wait_exponential(multiplier=half_first, max=half_max)
        return fixed + tenacity.wait_random_exponential(multiplier=half_first, max=half_max)

    def delay_s(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row (0 counts as 1)."""
        state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = max(failures, 1)
        return self.wait()(state)

    def retrying(
        self,
        attempts: int,
        *,
        retry: RetryBaseT,
        after: Callable[[tenacity.RetryCallState], None] = tenacity.after_nothing,
    ) -> tenacity.AsyncRetrying:
        """Up to ``attempts`` calls while ``retry`` says so; ``after`` sees each retried one."""
        return tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=self.wait(),
            retry=retry,
            after=after,
            retry_error_callback=_last_outcome,
        )


def _last_outcome(state: tenacity.RetryCallState) -> Any:
    """Out of attempts: the last call's result, or its exception raised again."""
    assert state.outcome is not None  # tenacity calls this only after an attempt
    return state.outcome.result()


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``; return as soon as ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
