"""When a fault test may run again: only when the fault could not be *timed*.

These tests drive real processes on a small shared machine. When a wait for a
moment the fault needs (a batch in flight, a commit to freeze after) runs out
before the moment comes, the run proves nothing either way, and it is run again
(at most twice). A violated invariant is never retried: the checker's failures
do not match, so they fail the first time.
"""

from __future__ import annotations

from typing import Final

import pytest

HELD_FIRINGS: Final = "the frozen prober holds firings"
MOMENTS_NOT_CAUGHT: Final = (
    "waiting for a batch commits",
    "waiting for the census settles",
    f"waiting for {HELD_FIRINGS}",
)
"""The waits of ``moments`` (freezing replicas at a named moment), and of a prober
frozen at firing after firing that took none (``test_fault_prober``); only those."""

TIMING_RERUNS: Final = pytest.mark.flaky(reruns=2, only_rerun=list(MOMENTS_NOT_CAUGHT))
