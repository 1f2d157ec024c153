"""nats-server running one of the shipped ``infra/nats`` files, as its container would.

A container mounts ``infra/nats`` at ``/etc/nats`` and a volume at
``/data/jetstream``, and has a network of its own. Here the folder is copied with
the store path mapped to a temporary folder (nats-server refuses a command-line
store beside the file's) and, for a cluster node, the route port mapped to a free
one (a command-line cluster URL would also replace the file's route credentials);
the client and monitoring ports are given on the command line, on 127.0.0.1.
Nothing else of the file changes.

``shipped_nats(name, work, env)`` starts it and waits until its monitoring port
answers ``/healthz`` (which a TLS-only client port does not make harder); it stops
the server when the block ends. ``server_env(tls)`` is every variable the files
read, with the test passwords of ``support.secured_broker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from connmgr.runtime.nats_server import wheel_binary
from connmgr.workers.nats_auth.issuer import issuer_from_seed, new_issuer_seed, public_key
from support.broker_tls import BrokerTls
from support.secured_broker import PASSWORDS

INFRA_NATS: Final = Path(__file__).parents[2] / "infra" / "nats"
CONTAINER_STORE: Final = "/data/jetstream"
CONTAINER_ROUTE_PORT: Final = "port: 6222"
START_TIMEOUT_S: Final = 30.0
ROUTE_PASSWORD: Final = "pw-route"


def server_env(tls: BrokerTls, *, issuer: str | None = None) -> dict[str, str]:
    """What infra/nats reads: pool passwords, the callout issuer, this node's name and
    routes (cluster.conf), the certificate (tls.conf)."""
    route = f"nats-route://route:{ROUTE_PASSWORD}@127.0.0.1:6222"
    return {
        "PATH": "/usr/bin:/bin",
        **PASSWORDS,
        "CONNMGR_NATS_AUTH_ISSUER": issuer or public_key(issuer_from_seed(new_issuer_seed())),
        "NATS_SERVER_NAME": "connmgr-nats-0",
        "CONNMGR_NATS_ROUTE_PASSWORD": ROUTE_PASSWORD,
        "CONNMGR_NATS_ROUTES": f"[{route}]",
        "CONNMGR_NATS_TLS_CERT_FILE": str(tls.cert),
        "CONNMGR_NATS_TLS_KEY_FILE": str(tls.key),
    }


def free_port() -> int:
    """A port nothing listens on now (the caller binds it soon after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def mapped_config_folder(work: Path, route_port: int, source: Path = INFRA_NATS) -> Path:
    """``source`` (``infra/nats``) copied into ``work/etc-nats``, the store mapped to
    ``work/data`` and the route port to ``route_port``."""
    folder = work / "etc-nats"
    shutil.copytree(source, folder)
    store = work / "data"
    store.mkdir()
    for config in folder.glob("*.conf"):
        text = config.read_text().replace(CONTAINER_STORE, str(store))
        config.write_text(text.replace(CONTAINER_ROUTE_PORT, f"port: {route_port}"))
    return folder


@dataclass(frozen=True)
class ShippedNats:
    client_port: int
    monitor_port: int
    log: Path

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"


@contextlib.asynccontextmanager
async def shipped_nats(
    name: str,
    work: Path,
    env: dict[str, str],
    *,
    route_port: int = 0,
    wait_healthy: bool = True,
) -> AsyncIterator[ShippedNats]:
    """Run ``infra/nats/<name>`` with ``env`` (the variables the file reads) until its
    ``/healthz`` says 200, or with ``wait_healthy=False`` until it answers at all."""
    work.mkdir(parents=True, exist_ok=True)
    folder = mapped_config_folder(work, route_port or free_port())
    server = ShippedNats(free_port(), free_port(), work / "nats-server.log")
    command = [str(wheel_binary()), "-c", str(folder / name), "-a", "127.0.0.1"]
    command += ["-p", str(server.client_port), "-m", str(server.monitor_port)]
    with server.log.open("ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        await _until_answering(server, process, wait_healthy)
        yield server
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)


async def _until_answering(
    server: ShippedNats, process: subprocess.Popen[bytes], healthy: bool
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nats-server exited: {server.log.read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{server.monitor_url}/healthz") as response:
                    if response.status == 200 or not healthy:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"nats-server not healthy: {server.log.read_text()[-2000:]}")
            await asyncio.sleep(0.05)
