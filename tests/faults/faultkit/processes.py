"""One ``connmgr`` process under test: its own process group, its output in a file.

A fault is a signal to the whole group (SIGKILL, SIGTERM, SIGSTOP, SIGCONT), so a
child the process may spawn shares its fate. The log file is appended across
restarts: a post-mortem reads the process's whole life. Every process started
here is also killed at interpreter exit, should a test run die without teardown.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support.waiting import wait_for

_LIVE: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE):
        if process.poll() is None:  # never signal a reaped pid: it may be someone else's
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


class ManagedProcess:
    """``argv`` run with ``env``; ready once its log shows ``ready_marker`` (if any)."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_path: Path, ready_marker: str
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.ready_marker = ready_marker
        self.starts = 0
        self.signalled = False  # the harness ended it: not a crash
        self._process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def crashed(self) -> bool:
        """It ran and exited, and not because the harness told it to."""
        return self._process is not None and not self.running and not self.signalled

    @property
    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._reap()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._offset = log.tell()
            self._process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach it alone
            )
        _LIVE.add(self._process)
        self.signalled = False
        self.starts += 1

    async def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if self.exit_code is not None:
                raise AssertionError(f"{self.name} exited ({self.exit_code}):\n{self.tail()}")
            return self.ready_marker in self.text(since_start=True)

        await wait_for(ready, timeout=timeout, interval=0.1, message=f"{self.name} is ready")

    def signal(self, signum: signal.Signals) -> None:
        """Send ``signum`` to the process group; a process already gone is left alone."""
        if signum in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            self.signalled = True
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signum)

    async def wait_exit(self, timeout: float) -> int:
        await wait_for(
            lambda: self.exit_code is not None,
            timeout=timeout,
            interval=0.05,
            message=f"{self.name} exits",
        )
        self._reap()
        code = self.exit_code
        assert code is not None
        return code

    async def kill(self) -> None:
        """A crash: SIGKILL the group, nothing flushed, then reap."""
        self.signal(signal.SIGKILL)
        if self._process is not None:
            await self.wait_exit(timeout=10.0)

    async def restart(self, timeout: float = 60.0) -> None:
        await self.kill()
        self.start()
        await self.wait_ready(timeout)

    async def stop(self, grace_s: float = 15.0) -> None:
        """SIGCONT (it may be stopped), SIGTERM, then SIGKILL after ``grace_s``."""
        if self._process is None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        with contextlib.suppress(AssertionError):
            await self.wait_exit(timeout=grace_s)
        await self.kill()

    def text(self, *, since_start: bool = False) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._offset if since_start else 0)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def log_events(self, event: str) -> Iterator[dict[str, Any]]:
        """The JSON log lines whose ``event`` is ``event``, over every start."""
        for line in self.text().splitlines():
            if f'"{event}"' not in line:
                continue
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("event") == event:
                    yield record

    def _reap(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            _LIVE.discard(self._process)
