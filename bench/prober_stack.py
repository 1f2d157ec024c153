"""The services of one prober bench run, all on loopback, all stopped at the end.

``open_stack`` is ``services.open_stack`` (a private nats-server, a fresh migrated
database ``connmgr_bench_<hex>``, a key ring; children stopped before those go,
also on an error, Ctrl-C or SIGTERM) with workers whose checks may reach
loopback; ``start_targets`` adds the local check targets as a child of it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from harness import BENCH_DIR, BenchError
from services import Stack
from services import open_stack as open_services

TARGETS_SCRIPT: Final = BENCH_DIR / "prober_targets.py"
TARGETS_START_S: Final = 30.0


@asynccontextmanager
async def open_stack(workdir: Path, tester_concurrency: int) -> AsyncIterator[Stack]:
    """The services, with workers allowed to check loopback targets."""
    env = {
        "CONNMGR_EGRESS_ALLOW_LOOPBACK": "1",
        "CONNMGR_TESTER_CONCURRENCY": str(tester_concurrency),
    }
    async with open_services(workdir, worker_env=env) as stack:
        yield stack


async def start_targets(stack: Stack, mode: str, count: int) -> list[int]:
    """``count`` local ``tcp`` or ``http`` listeners in one process; their ports."""
    ports_file = stack.workdir / f"targets-{mode}.ports"
    argv = [sys.executable, str(TARGETS_SCRIPT), mode, "--count", str(count)]
    child = stack.start(f"targets-{mode}", [*argv, "--ports-file", str(ports_file)], {})
    deadline = time.monotonic() + TARGETS_START_S
    while not ports_file.exists():
        child.check_running()
        if time.monotonic() > deadline:
            raise BenchError(f"the {mode} targets did not start within {TARGETS_START_S}s")
        await asyncio.sleep(0.05)
    return [int(line) for line in ports_file.read_text().split()]
