"""What the benches stand on: child processes, a throw-away database, small helpers.

Every child runs in its own session (process group), so a Ctrl-C meant for the
bench does not reach it behind the bench's back, and ``ChildProcess.stop`` can
end the whole group: SIGTERM, then SIGKILL after a grace period. Everything is
on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Final

import aiohttp
import asyncpg  # type: ignore[import-untyped]

from connmgr.runtime.logging import configure_logging
from connmgr.schemas.settings import Settings

HOST: Final = "127.0.0.1"
POSTGRES_ADMIN_DSN: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL_PREFIX: Final = "postgresql+asyncpg://postgres@127.0.0.1:5432/"
DATABASE_PREFIX: Final = "connmgr_bench_"
VENV_BIN: Final = Path(sys.executable).parent
BENCH_DIR: Final = Path(__file__).resolve().parent


class BenchError(RuntimeError):
    """A bench could not set up or did not see the effects it waited for."""


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


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (``VmHWM``) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM for pid {pid}")


CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


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


async def wait_until_http_ok(url: str, child: ChildProcess, timeout_s: float = 30.0) -> None:
    """Poll ``url`` until it answers 200; ``BenchError`` when the child dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            child.check_running()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise BenchError(f"{child.name} did not answer {url} within {timeout_s}s")


@asynccontextmanager
async def temporary_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database ``connmgr_bench_<hex>``: its async URL; dropped on exit."""
    name = f"{DATABASE_PREFIX}{secrets.token_hex(6)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    try:
        yield f"{POSTGRES_URL_PREFIX}{name}"
    finally:
        await _drop_database(name)


async def _drop_database(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty sample."""
    if not values:
        raise BenchError("no samples")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def figure(name: str, value: float) -> None:
    """Print one figure as a ``name: value`` line, at once."""
    text = f"{value:.2f}" if abs(value) >= 1 else f"{value:.4f}"
    print(f"{name}: {text}", flush=True)


def note(text: str) -> None:
    """A remark on the run, to stderr (stdout holds only figures)."""
    print(f"note: {text}", file=sys.stderr, flush=True)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Note how long the block took (when it succeeds): where a run spends its time."""
    started = time.perf_counter()
    yield
    note(f"{name} took {time.perf_counter() - started:.1f}s")


def load_average() -> str:
    """The machine's 1/5/15-minute load: the figures mean little on a busy machine."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run_bench(bench: Coroutine[Any, Any, None]) -> int:
    """Run a bench's coroutine as the process's main: its exit status.

    Logging as the workers do (warnings, console); SIGTERM cancels the run, so every
    ``async with`` in it stops what it started. 1 on ``BenchError`` (said on stderr),
    130 on Ctrl-C, 143 on SIGTERM.
    """
    configure_logging(Settings(log_level="warning", log_format="console"))

    async def cancellable() -> None:
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await bench

    try:
        asyncio.run(cancellable())
    except BenchError as error:
        sys.stderr.write(f"bench failed: {error}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:
        return 143  # SIGTERM
    return 0
