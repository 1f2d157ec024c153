"""Flap detection: the recent results as letters, and whether they flip too often.

``recent`` (persisted as ``probe_state.recent``) holds the last ``window`` results,
oldest first, one letter each: ``S`` success, ``L`` slow success (latency above the
SLO), ``F`` failure, ``A`` auth failure. A *flip* is an adjacent pair where one
result is a success (``S``/``L``) and the other a failure (``F``/``A``); ``S``↔``L``
and ``F``↔``A`` are not flips, as they do not decide between up and down.

The flip share is flips / (results - 1), counted only once at least
``MIN_SAMPLES`` results are present (0 before). A connection starts flapping when
the share exceeds the threshold and settles only when it falls below half of it
(hysteresis), so it does not enter and leave flapping on alternate checks.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Final

from connmgr.schemas.health import HealthCheckSettings
from connmgr.workers.checks.base import Outcome

FAST: Final = "S"
SLOW: Final = "L"
FAILED: Final = "F"
AUTH_FAILED: Final = "A"
SUCCESSES: Final = frozenset({FAST, SLOW})
FAILURES: Final = frozenset({FAILED, AUTH_FAILED})

MIN_SAMPLES: Final = 10
MAX_WINDOW: Final = 32  # the width of the probe_state.recent column


def letter_for(outcome: str, latency_ms: float, settings: HealthCheckSettings) -> str:
    """The letter of one result: only ``ok`` is a success; above the SLO it is slow."""
    if outcome == Outcome.OK:
        slo = settings.latency_slo_ms
        return SLOW if slo is not None and latency_ms > slo else FAST
    return AUTH_FAILED if outcome == Outcome.AUTH_FAILED else FAILED


def remember(recent: str, letter: str, window: int) -> str:
    """``recent`` with ``letter`` appended, keeping the last ``window`` letters."""
    return (recent + letter)[-window:]


def flip_share(recent: str) -> float:
    """The share of adjacent results that flip between success and failure."""
    if len(recent) < MIN_SAMPLES:
        return 0.0
    flips = sum((a in SUCCESSES) != (b in SUCCESSES) for a, b in pairwise(recent))
    return flips / (len(recent) - 1)


def is_flapping(recent: str, was_flapping: bool, threshold: float) -> bool:
    """Enter above ``threshold``; once flapping, stay until below ``threshold / 2``."""
    share = flip_share(recent)
    if was_flapping:
        return share >= threshold / 2
    return share > threshold
