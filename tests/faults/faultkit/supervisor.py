"""A supervisor, as Kubernetes or compose would be: a process that exits on its own
is started again, and the exit is recorded for the report.

An exit the harness caused (it sent SIGKILL or SIGTERM) is the test's business
and left alone. A process is restarted at most ``MAX_RESTARTS`` times (a crash
loop is reported, not fed). ``INTERVAL_S`` is a sampling cadence, not a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Final

from faultkit.processes import ManagedProcess

INTERVAL_S: Final = 0.25
MAX_RESTARTS: Final = 20


@dataclass(frozen=True, slots=True)
class UnexpectedExit:
    name: str
    code: int | None
    at: float  # wall clock

    def __str__(self) -> str:
        return f"{self.name} exited {self.code} (restarted)"


class Supervisor:
    def __init__(self, processes: list[ManagedProcess]) -> None:
        self._processes = processes
        self.exits: list[UnexpectedExit] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    def _sweep(self) -> None:
        for process in self._processes:
            if process.crashed and sum(e.name == process.name for e in self.exits) < MAX_RESTARTS:
                self.exits.append(UnexpectedExit(process.name, process.exit_code, time.time()))
                process.start()

    async def _run(self) -> None:
        while not self._stop.is_set():
            self._sweep()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), INTERVAL_S)
