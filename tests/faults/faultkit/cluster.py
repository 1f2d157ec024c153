"""A private connmgr deployment for one fault test, made of real processes.

A nats-server with ``sync_interval: always`` (the durable single-node setting of
``infra/nats/nats-server.conf``) on its own store, a fresh migrated PostgreSQL database, ``N``
``connmgr worker encryptor`` replicas, optionally ``connmgr worker tester`` and
``prober`` replicas (checks may reach loopback targets), a relay and optionally
the API, each a subprocess in its own process group logging JSON to
``<workdir>/<name>.log``.
The harness keeps its own engine and NATS connection to observe, never to act
for the system under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import nats
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.nats_server import NatsServer
from connmgr.storage.database import create_engine, migrate
from connmgr.workers.keyring import Keyring
from faultkit.processes import ManagedProcess
from faultkit.supervisor import Supervisor, UnexpectedExit

DURABLE_JETSTREAM = "sync_interval: always"
CONNMGR = str(Path(sys.executable).parent / "connmgr")


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    encryptors: int = 2
    testers: int = 0
    probers: int = 0
    relay: bool = True
    api: bool = False
    batch_size: int = 256
    shutdown_grace_s: float = 10.0
    settings: tuple[tuple[str, str], ...] = ()  # more CONNMGR_* variables for every process


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """When a fault was in force, in wall-clock seconds (``handled_at`` is wall clock too)."""

    label: str
    started: float
    ended: float


class Cluster:
    """The deployment under test; build it with the ``start_cluster`` fixture."""

    def __init__(
        self, server: NatsServer, database_url: str, workdir: Path, options: ClusterOptions
    ) -> None:
        self.nats = server
        self.database_url = database_url
        self.database = database_url.rsplit("/", 1)[1]
        self.workdir = workdir
        self.options = options
        self.keyring_json = Keyring.generate().to_json()
        self.engine: AsyncEngine = create_engine(database_url, pool_size=2)
        self.faults: list[FaultWindow] = []
        self.encryptors = self._replicas("encryptor", options.encryptors)
        self.testers = self._replicas("tester", options.testers)
        self.probers = self._replicas("prober", options.probers)
        self.relay = (
            self._process("relay", ["worker", "relay"], "pool_started") if options.relay else None
        )
        self.api = self._process("api", ["api"], "api_started") if options.api else None
        self._nc: NatsClient | None = None
        self._commands: list[ManagedProcess] = []
        self._supervisor = Supervisor(self.processes)

    @property
    def processes(self) -> list[ManagedProcess]:
        extra = [p for p in (self.relay, self.api) if p is not None]
        return [*self.encryptors, *self.testers, *self.probers, *extra]

    @property
    def exits(self) -> list[UnexpectedExit]:
        """Processes that exited on their own (and were started again)."""
        return self._supervisor.exits

    @property
    def nc(self) -> NatsClient:
        assert self._nc is not None, "the cluster has not started"
        return self._nc

    @property
    def api_url(self) -> str:
        assert self.api is not None, "the cluster runs no API"
        return str(list(self.api.log_events("api_started"))[-1]["url"])

    def env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CONNMGR_")}
        own = {
            "CONNMGR_DATABASE_URL": self.database_url,
            "CONNMGR_NATS_URL": self.nats.url,
            "CONNMGR_KEYRING": self.keyring_json,
            "CONNMGR_ALLOW_PLAINTEXT_SECRETS": "1",
            "CONNMGR_EGRESS_ALLOW_LOOPBACK": "1",  # the checks' targets are the test's own
            "CONNMGR_LOG_LEVEL": "info",
            "CONNMGR_LOG_FORMAT": "json",
            "CONNMGR_SHUTDOWN_GRACE_S": str(self.options.shutdown_grace_s),
            "CONNMGR_BATCH_SIZE": str(self.options.batch_size),
            "CONNMGR_API_HOST": "127.0.0.1",
            "CONNMGR_API_PORT": "0",
            "CONNMGR_HEALTH_PORT": "0",  # many workers on one machine: no probe ports
            "PYTHONUNBUFFERED": "1",  # a SIGKILL must not eat the last log lines
        }
        return inherited | own | dict(self.options.settings)

    def command(self, *args: str, name: str) -> ManagedProcess:
        """A one-shot ``connmgr`` command (say ``projection rebuild``) against this cluster;
        the caller starts it. It is stopped with the cluster if still running."""
        process = self._process(name, list(args), "")
        self._commands.append(process)
        return process

    async def start(self) -> None:
        for process in self.processes:
            process.log_path.unlink(missing_ok=True)  # a reused log folder starts afresh
        await migrate(self.engine)
        for process in self.processes:
            process.start()
        await asyncio.gather(*(process.wait_ready() for process in self.processes))
        self._supervisor.start()
        self._nc = await nats.connect(
            self.nats.url,
            name="fault-harness",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            error_cb=_quiet,
        )

    async def close(self) -> None:
        """Stop every process (even a stopped one), then the harness's own clients."""
        self.resume_nats()
        await self._supervisor.stop()
        everything = [*self.processes, *self._commands]
        await asyncio.gather(*(p.stop(self.options.shutdown_grace_s + 5) for p in everything))
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def fault(self, label: str) -> AsyncIterator[None]:
        """Record the block as a fault window for the report's recovery figure."""
        started = time.time()
        try:
            yield
        finally:
            self.faults.append(FaultWindow(label, started, time.time()))

    async def kill_nats(self) -> None:
        """Crash the broker: SIGKILL, nothing flushed beyond what it already synced."""
        await self.nats.kill()

    async def restart_nats(self) -> None:
        """Start the broker again on the same port and store."""
        await self.nats.start()

    def pause_nats(self) -> None:
        """Hang the broker (SIGSTOP): connections stay open, nothing is answered."""
        assert self.nats.pid is not None, "nats-server is not running"
        os.kill(self.nats.pid, signal.SIGSTOP)

    def resume_nats(self) -> None:
        if self.nats.pid is not None:
            os.kill(self.nats.pid, signal.SIGCONT)

    def logs(self) -> str:
        """Where each process's output is, for a post-mortem."""
        everything = [*self.processes, *self._commands]
        return "\n".join(f"  {p.name}: {p.log_path}" for p in everything)

    def _replicas(self, pool: str, count: int) -> list[ManagedProcess]:
        return [
            self._process(f"{pool}-{n}", ["worker", pool], "pool_started")
            for n in range(1, count + 1)
        ]

    def _process(self, name: str, args: list[str], marker: str) -> ManagedProcess:
        log = self.workdir / f"{name}.log"
        return ManagedProcess(name, [CONNMGR, *args], self.env(), log, marker)


async def _quiet(_error: Exception) -> None:
    """The harness's connection sees every broker fault; they are the test's, not news."""


StartCluster: TypeAlias = Callable[..., Awaitable[Cluster]]
"""The ``start_cluster`` fixture: ``await start_cluster(ClusterOptions(...))``."""
