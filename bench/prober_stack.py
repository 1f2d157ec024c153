"""The services of one prober bench run, all on loopback, all stopped at the end.

``open_stack`` starts a private nats-server (temporary store) and a fresh migrated
PostgreSQL database ``connmgr_bench_<hex>`` (dropped on exit) and makes a key
ring. ``ProberStack`` starts the children — ``connmgr worker <pool>`` processes
and the local check targets — each in its own process group, and on exit stops
them all (SIGTERM, then SIGKILL after a grace period), before the server and the
database go: also on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.nats_server import NatsServer
from connmgr.storage.database import create_engine, migrate
from connmgr.workers.keyring import Keyring
from harness import BENCH_DIR, VENV_BIN, BenchError, ChildProcess, phase, temporary_database

TARGETS_SCRIPT: Final = BENCH_DIR / "prober_targets.py"
TARGETS_START_S: Final = 30.0


@dataclass
class ProberStack:
    """The services of one run; ``stop_children`` ends every child it started."""

    workdir: Path
    nats_url: str
    database_url: str
    engine: AsyncEngine
    keyring_json: str
    tester_concurrency: int
    children: list[ChildProcess] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> ChildProcess:
        child = ChildProcess(name, argv, env, self.workdir / f"{name}.log")
        self.children.append(child)
        return child

    def start_worker(self, pool: str, name: str | None = None) -> ChildProcess:
        """``connmgr worker <pool>`` against this stack, checks allowed to reach loopback."""
        env = {
            "CONNMGR_DATABASE_URL": self.database_url,
            "CONNMGR_NATS_URL": self.nats_url,
            "CONNMGR_KEYRING": self.keyring_json,
            "CONNMGR_EGRESS_ALLOW_LOOPBACK": "1",
            "CONNMGR_TESTER_CONCURRENCY": str(self.tester_concurrency),
            "CONNMGR_LOG_LEVEL": "warning",
        }
        return self.start(name or pool, [str(VENV_BIN / "connmgr"), "worker", pool], env)

    async def start_targets(self, mode: str, count: int) -> list[int]:
        """``count`` local ``tcp`` or ``http`` listeners in one process; their ports."""
        ports_file = self.workdir / f"targets-{mode}.ports"
        argv = [sys.executable, str(TARGETS_SCRIPT), mode, "--count", str(count)]
        child = self.start(f"targets-{mode}", [*argv, "--ports-file", str(ports_file)], {})
        deadline = time.monotonic() + TARGETS_START_S
        while not ports_file.exists():
            child.check_running()
            if time.monotonic() > deadline:
                raise BenchError(f"the {mode} targets did not start within {TARGETS_START_S}s")
            await asyncio.sleep(0.05)
        return [int(line) for line in ports_file.read_text().split()]

    async def stop_children(self) -> None:
        """Stop every child at once (each drains on SIGTERM), then forget them."""
        children, self.children = self.children, []
        await asyncio.gather(*(child.stop() for child in children), return_exceptions=True)


@asynccontextmanager
async def open_stack(workdir: Path, tester_concurrency: int) -> AsyncIterator[ProberStack]:
    """nats-server, a fresh migrated database and a key ring; all gone on exit."""
    async with AsyncExitStack() as exits:
        with phase("nats-server, database and migrations"):
            server = await exits.enter_async_context(NatsServer(workdir / "nats"))
            database_url = await exits.enter_async_context(temporary_database())
            engine = create_engine(database_url)
            exits.push_async_callback(engine.dispose)
            await migrate(engine)
        keyring = Keyring.generate().to_json()
        stack = ProberStack(workdir, server.url, database_url, engine, keyring, tester_concurrency)
        exits.push_async_callback(stack.stop_children)
        yield stack
