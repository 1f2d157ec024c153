"""The services of one run and the children it starts, all on loopback.

``open_stack`` makes a run's work folder, starts a private nats-server (temporary
store) and a fresh migrated PostgreSQL database ``connmgr_bench_<hex>`` and makes a
key ring; ``Stack`` starts the connmgr processes (``connmgr worker <pool>``,
``connmgr api``) and the local targets (``targets.py``), and stops every child
before those go, also on an error, Ctrl-C or SIGTERM. ``checker_env`` is the
settings of the workers that check connections.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness.database import migrated_database
from bench.harness.figures import phase
from bench.harness.processes import HOST, ChildProcess, all_running, free_port
from bench.harness.waiting import wait_for, wait_until_http_ok
from connmgr.runtime.nats_server import NatsServer
from connmgr.workers.keyring import Keyring

VENV_BIN: Final = Path(sys.executable).parent
TARGETS_SCRIPT: Final = Path(__file__).resolve().parents[1] / "targets.py"


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

    def start_connmgr(self, name: str, args: Sequence[str], env: dict[str, str]) -> ChildProcess:
        """``connmgr <args>`` on the run's database, logging warnings; ``env`` on top."""
        base = {"CONNMGR_DATABASE_URL": self.database_url, "CONNMGR_LOG_LEVEL": "warning"}
        return self.start(name, [str(VENV_BIN / "connmgr"), *args], {**base, **env})

    def start_worker(self, pool: str, name: str | None = None) -> ChildProcess:
        """``connmgr worker <pool>``; ``name`` (default: the pool) names its log."""
        env = {
            "CONNMGR_NATS_URL": self.nats_url,
            "CONNMGR_KEYRING": self.keyring_json,
            "CONNMGR_HEALTH_PORT": "0",  # many workers on one machine: no probe ports
            **self.worker_env,
        }
        return self.start_connmgr(name or pool, ["worker", pool], env)

    def check_running(self) -> None:
        """``BenchError`` when any child started so far has exited."""
        all_running(*self.children)()

    async def stop_children(self) -> None:
        """Stop every child at once (each drains on SIGTERM), then forget them."""
        children, self.children = self.children, []
        await asyncio.gather(*(child.stop() for child in children), return_exceptions=True)


@asynccontextmanager
async def open_stack(
    bench: str,
    *,
    keep: Path | None = None,
    jetstream_options: str = "",
    worker_env: Mapping[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """nats-server, a fresh migrated database and a key ring, in a work folder for the
    children's logs and the NATS store (``workdir``: temporary, or ``keep``); all
    stopped and dropped on exit."""
    with workdir(f"connmgr-bench-{bench}-", keep) as folder:
        async with AsyncExitStack() as exits:
            with phase("nats-server, database and migrations"):
                nats = NatsServer(folder / "nats", jetstream_options=jetstream_options)
                server = await exits.enter_async_context(nats)
                url, engine = await exits.enter_async_context(migrated_database())
            keyring = Keyring.generate().to_json()
            stack = Stack(folder, server.url, url, engine, keyring, dict(worker_env or {}))
            exits.push_async_callback(stack.stop_children)
            yield stack


class Api(NamedTuple):
    """A ``connmgr api`` child answering on ``base_url``."""

    base_url: str
    child: ChildProcess


async def start_api(stack: Stack, env: Mapping[str, str] | None = None) -> Api:
    """``connmgr api`` on a free port (``env`` added to its environment), once it answers."""
    port = free_port()
    child = stack.start_connmgr("api", ["api"], {"CONNMGR_API_PORT": str(port), **(env or {})})
    base_url = f"http://{HOST}:{port}"
    await wait_until_http_ok(f"{base_url}/healthz", child)
    return Api(base_url, child)


def checker_env(concurrency: int) -> dict[str, str]:
    """Settings of workers that check connections (tester, prober) in a run: the local
    targets are on loopback, and ``concurrency`` checks run at once."""
    return {
        "CONNMGR_EGRESS_ALLOW_LOOPBACK": "1",
        "CONNMGR_TESTER_CONCURRENCY": str(concurrency),
    }


async def start_targets(stack: Stack, mode: str, count: int, timeout_s: float = 30.0) -> list[int]:
    """``count`` local ``tcp`` or ``http`` listeners in one child process (``targets.py``);
    their ports, once every one is bound and serving."""
    ports_file = stack.workdir / f"targets-{mode}.ports"
    argv = [sys.executable, str(TARGETS_SCRIPT), mode, "--count", str(count)]
    child = stack.start(f"targets-{mode}", [*argv, "--ports-file", str(ports_file)], {})

    async def bound() -> str | None:
        return None if ports_file.exists() else f"the {mode} targets have not started"

    await wait_for(bound, child.check_running, timeout_s)
    return [int(line) for line in ports_file.read_text().split()]


async def start_http_target(stack: Stack) -> str:
    """One bare aiohttp app (``targets.py http``): its base URL."""
    [port] = await start_targets(stack, "http", 1)
    return f"http://{HOST}:{port}"


@contextmanager
def workdir(prefix: str, keep: Path | None = None) -> Iterator[Path]:
    """A temporary folder for the children's logs and the NATS store, or ``keep``
    (created, never deleted) to read them after the run."""
    if keep is not None:
        keep.mkdir(parents=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as path:
        yield Path(path)
