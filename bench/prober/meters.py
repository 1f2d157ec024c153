"""What the prober bench watches while the window runs: stream sequences and CPU.

- ``SeqTimeline`` polls ``CONNMGR_CMD``'s last sequence every ``POLL_S`` (wall
  clock). Once the schedules are in place nothing but the broker's firings adds
  to that stream, so the timeline says when each firing (``scheduled:<seq>``)
  was stored, give or take one poll: that assigns a sample to the interval it
  was fired for, however late the prober got to it.
- ``harness.cpu_seconds`` reads a process's ``utime + stime`` from ``/proc/<pid>/stat``;
  ``machine_busy`` the whole machine's busy and total jiffies from ``/proc/stat``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from pathlib import Path
from typing import Final

from nats.js import JetStreamContext

from bench.harness import CLOCK_TICKS, BenchError, cpu_seconds
from connmgr.schemas.bus.streams import SCHEDULE_STREAM

POLL_S: Final = 0.05
STOP_GRACE_S: Final = 5.0


class SeqTimeline:
    """``(wall time, last stream sequence)`` points, polled until ``stop``."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._times: list[float] = []
        self._seqs: list[int] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        await stop_loop(self._task, self._stopping)

    async def _poll(self) -> None:
        while not self._stopping.is_set():
            info = await self._js.stream_info(SCHEDULE_STREAM)
            self._times.append(time.time())
            self._seqs.append(info.state.last_seq)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), POLL_S)

    def seq_at(self, moment: float) -> int:
        """The last sequence seen at or before ``moment``."""
        index = bisect.bisect_right(self._times, moment) - 1
        if index < 0:
            raise BenchError("the sequence timeline starts after the window")
        return self._seqs[index]

    def stored_by(self, seq: int) -> float:
        """When the timeline first saw ``seq`` stored (an upper bound, within a poll)."""
        index = bisect.bisect_left(self._seqs, seq)
        return self._times[min(index, len(self._times) - 1)]


async def stop_loop(task: asyncio.Task[None] | None, stopping: asyncio.Event) -> None:
    """End a polling loop: set its flag, give it a moment, then cancel it.

    The flag is what ends it: on Python 3.11 a cancel that lands as a request's
    ``wait_for`` completes is swallowed (nats-py requests use ``wait_for``).
    """
    stopping.set()
    if task is None:
        return
    with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
        await asyncio.wait_for(asyncio.shield(task), STOP_GRACE_S)
    if not task.done():
        task.cancel()


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot; idle and iowait are not busy."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])  # guest time is already counted in user
    return total - values[3] - values[4], total


class CpuWindow:
    """CPU use of groups of processes and of the machine between ``begin`` and ``end``,
    in percent of one core; a process gone by ``end`` is left out of its group."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self._groups = groups
        self._start: dict[int, float] = {}
        self._machine: tuple[int, int] = (0, 0)
        self._began = 0.0
        self.percent: dict[str, float] = {}
        self.followed: dict[str, str] = {}  # "alive at the end / at the start" per group
        self.machine_percent = 0.0  # of all cores
        self.others_percent = 0.0  # busy time of processes in no group

    def begin(self) -> None:
        self._began = time.monotonic()
        self._start = {
            pid: _cpu_or_none(pid) or 0.0 for pids in self._groups.values() for pid in pids
        }
        self._machine = machine_busy()

    def end(self) -> None:
        elapsed = time.monotonic() - self._began
        used = {name: self._used(pids) for name, pids in self._groups.items()}
        self.followed = {
            name: f"{sum(_cpu_or_none(pid) is not None for pid in pids)}/{len(pids)}"
            for name, pids in self._groups.items()
        }
        self.percent = {name: 100 * seconds / elapsed for name, seconds in used.items()}
        busy, total = machine_busy()
        busy_s = (busy - self._machine[0]) / CLOCK_TICKS
        self.machine_percent = 100 * (busy - self._machine[0]) / max(1, total - self._machine[1])
        self.others_percent = max(0.0, 100 * (busy_s - sum(used.values())) / elapsed)

    def _used(self, pids: list[int]) -> float:
        used = 0.0
        for pid in pids:
            now = _cpu_or_none(pid)
            if now is not None and pid in self._start:
                used += now - self._start[pid]
        return used


def _cpu_or_none(pid: int) -> float | None:
    try:
        return cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None


def pids_with_argument(fragment: str) -> list[int]:
    """Processes whose command line holds ``fragment`` (the run's nats-server, by its store)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if fragment in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
