"""Child processes, each in its own session (process group), and what ``/proc`` says of them.

A Ctrl-C meant for the bench does not reach a child behind the bench's back, and
``ChildProcess.stop`` can end the whole group: SIGTERM, then SIGKILL after a grace
period. ``cpu_seconds``, ``peak_rss_mb`` and ``rss_mb`` read ``/proc``. Everything
is on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from bench.harness.errors import BenchError

HOST: Final = "127.0.0.1"
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")

Check = Callable[[], None]


class ChildProcess:
    """One child process in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self._process = subprocess.Popen(
                list(argv),
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self._process.pid

    async def wait(self, timeout_s: float) -> int:
        """The exit code once the child ends; ``BenchError`` after ``timeout_s``."""
        try:
            return await asyncio.to_thread(self._process.wait, timeout_s)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{self.name} did not finish within {timeout_s}s") from None

    def check_running(self) -> None:
        """Raise ``BenchError`` with the log's tail when the child has exited."""
        if (code := self._process.poll()) is not None:
            raise BenchError(f"{self.name} exited with code {code}:\n{log_tail(self.log)}")

    async def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the group, SIGKILL it after ``grace_s``, reap. Idempotent."""
        if self._process.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self._process.wait, grace_s)
        # The leader may be gone while others of its group live on.
        _signal_group(self.pid, signal.SIGKILL)
        await asyncio.to_thread(self._process.wait)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def all_running(*children: ChildProcess) -> Check:
    """A check that raises ``BenchError`` as soon as one of ``children`` has exited."""

    def check() -> None:
        for child in children:
            child.check_running()

    return check


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (``VmHWM``) in MiB."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The process's resident set size now (``VmRSS``) in MiB."""
    return _status_mb(pid, "VmRSS")


def _status_mb(pid: int, field: str) -> float:
    """A size field (in kB) of ``/proc/<pid>/status``, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no {field} for pid {pid}")


def cpu_seconds(pid: int | None = None) -> float:
    """User plus system CPU time of the process (this one by default) so far, in seconds."""
    stat = Path(f"/proc/{pid or 'self'}/stat").read_text()
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def free_port() -> int:
    """A port free right now on loopback (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port
