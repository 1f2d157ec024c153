"""The services of one bench run: nats-server, a fresh database, and child processes.

``open_stack`` starts nats-server (temporary store) and a fresh migrated
PostgreSQL database and makes a key ring; ``Stack`` starts the connmgr processes
(``connmgr worker <pool>``, ``connmgr api``) and the bare app, and stops every
child, in reverse order, on exit.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.nats_server import NatsServer
from connmgr.storage.database import create_engine, migrate
from connmgr.workers.keyring import Keyring
from harness import (
    BENCH_DIR,
    HOST,
    VENV_BIN,
    ChildProcess,
    free_port,
    phase,
    temporary_database,
    wait_until_http_ok,
)
from write_load import Check


@dataclass
class Stack:
    """The services of one run; ``worker_env`` is added to every worker's environment."""

    workdir: Path
    nats_url: str
    database_url: str
    engine: AsyncEngine
    keyring_json: str
    worker_env: dict[str, str] = field(default_factory=dict)
    children: list[ChildProcess] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> ChildProcess:
        child = ChildProcess(name, argv, env, self.workdir / f"{name}.log")
        self.children.append(child)
        return child

    def start_worker(self, pool: str, name: str | None = None) -> ChildProcess:
        """``connmgr worker <pool>``; ``name`` (default: the pool) names its log."""
        env = {
            "CONNMGR_DATABASE_URL": self.database_url,
            "CONNMGR_NATS_URL": self.nats_url,
            "CONNMGR_KEYRING": self.keyring_json,
            "CONNMGR_LOG_LEVEL": "warning",
            **self.worker_env,
        }
        return self.start(name or pool, [str(VENV_BIN / "connmgr"), "worker", pool], env)

    async def stop_children(self) -> None:
        """Stop every child at once (each drains on SIGTERM), then forget them."""
        children, self.children = self.children, []
        await asyncio.gather(*(child.stop() for child in children), return_exceptions=True)


@asynccontextmanager
async def open_stack(
    workdir: Path, jetstream_options: str = "", worker_env: dict[str, str] | None = None
) -> AsyncIterator[Stack]:
    """nats-server, a fresh migrated database and a key ring; all gone on exit."""
    async with AsyncExitStack() as exits:
        with phase("nats-server, database and migrations"):
            nats = NatsServer(workdir / "nats", jetstream_options=jetstream_options)
            server = await exits.enter_async_context(nats)
            database_url = await exits.enter_async_context(temporary_database())
            engine = create_engine(database_url)
            exits.push_async_callback(engine.dispose)
            await migrate(engine)
        keyring = Keyring.generate().to_json()
        stack = Stack(workdir, server.url, database_url, engine, keyring, worker_env or {})
        exits.push_async_callback(stack.stop_children)
        yield stack


def all_running(*children: ChildProcess) -> Check:
    def check() -> None:
        for child in children:
            child.check_running()

    return check


async def start_api(stack: Stack) -> str:
    """``connmgr api`` on a free port; its base URL once it answers."""
    port = free_port()
    env = {
        "CONNMGR_DATABASE_URL": stack.database_url,
        "CONNMGR_API_PORT": str(port),
        "CONNMGR_LOG_LEVEL": "warning",
    }
    child = stack.start("api", [str(VENV_BIN / "connmgr"), "api"], env)
    return await _answering(child, port)


async def start_bare(stack: Stack) -> str:
    """The bare aiohttp app on a free port; its base URL once it answers."""
    port = free_port()
    argv = [sys.executable, str(BENCH_DIR / "bare_app.py"), "--port", str(port)]
    return await _answering(stack.start("bare", argv, {}), port)


async def _answering(child: ChildProcess, port: int) -> str:
    base_url = f"http://{HOST}:{port}"
    await wait_until_http_ok(f"{base_url}/healthz", child)
    return base_url
