"""What a run prints: one ``name: value`` line on stdout per figure, remarks on stderr.

While ``run_bench`` runs a bench, every figure and note is also kept in its
``Transcript`` for the result file.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from bench.harness.errors import BenchError


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty sample."""
    if not values:
        raise BenchError("no samples")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


@dataclass
class Transcript:
    """What a run printed, kept for its result file: figures and notes apart."""

    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_TRANSCRIPT: ContextVar[Transcript | None] = ContextVar("bench_transcript", default=None)


def keep_transcript() -> Transcript:
    """From now on, every figure and note of this context is also kept in the answer."""
    transcript = Transcript()
    _TRANSCRIPT.set(transcript)
    return transcript


def figure(name: str, value: float) -> None:
    """Print one figure as a ``name: value`` line, at once."""
    text = f"{value:.2f}" if abs(value) >= 1 else f"{value:.4f}"
    line = f"{name}: {text}"
    print(line, flush=True)
    if (transcript := _TRANSCRIPT.get()) is not None:
        transcript.figures.append(line)


def note(text: str) -> None:
    """A remark on the run, to stderr (stdout holds only figures)."""
    line = f"note: {text}"
    print(line, file=sys.stderr, flush=True)
    if (transcript := _TRANSCRIPT.get()) is not None:
        transcript.notes.append(line)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Note how long the block took (when it succeeds): where a run spends its time."""
    started = time.perf_counter()
    yield
    note(f"{name} took {time.perf_counter() - started:.1f}s")


Answer = TypeVar("Answer")


async def timed_reads(
    read: Callable[[], Awaitable[Answer]], times: int, *, found: Callable[[Answer], object]
) -> list[float]:
    """Milliseconds per read, one read after another; a read whose answer lacks what the
    run seeded (``found`` is falsy) fails the run instead of timing an empty answer."""
    elapsed: list[float] = []
    for _ in range(times):
        started = time.perf_counter()
        answer = await read()
        elapsed.append((time.perf_counter() - started) * 1000)
        if not found(answer):
            raise BenchError("a read of the bench's seeded data came back empty")
    return elapsed


def load_average() -> str:
    """The machine's 1/5/15-minute load: the figures mean little on a busy machine."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
