"""The real stack ``plan``/``apply``/``export`` talk to, one per test module.

A private nats-server from the wheel, a fresh PostgreSQL database, the real
encryptor and tester pools (loopback allowed, for ``--test``), the read API
in-process. Each test takes tenants of its own (``Stack.tenant``): a read token for
the API and a ``CliContext`` for the Producer, so tests share nothing but the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from aiohttp.test_utils import TestClient, TestServer
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api import create_app
from connmgr.producers.cli import CliContext
from connmgr.producers.declared_state import Existing, read_existing
from connmgr.runtime.cli_parser import build_parser
from connmgr.runtime.nats_server import NatsServer
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.tokens import issue_token
from connmgr.workers.checks.registry import build_checks
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from connmgr.workers.tester.service import TesterPool
from support import require_services
from support.databases import temporary_postgres_database
from support.running_pools import run_pools


@dataclass
class Stack:
    nats_url: str
    engine: AsyncEngine
    api: TestClient[Any, Any]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return str(self.api.make_url("")).rstrip("/")

    async def tenant(self, name: str | None = None) -> CliContext:
        """A new tenant's context: its read token, NATS and its own actor."""
        tenant = name or f"t{secrets.token_hex(6)}"
        token = await issue_token(self.engine, "cac", tenant, ["read"])
        return CliContext(
            nats_url=self.nats_url,
            tenant=tenant,
            actor_id="ci",
            api_url=self.api_url,
            api_token=token,
            timeout_s=30.0,
        )

    async def existing(self, ctx: CliContext) -> list[Existing]:
        assert ctx.api_url is not None
        assert ctx.api_token is not None
        return await read_existing(ctx.api_url, ctx.api_token, timeout_s=30.0)

    async def run(self, ctx: CliContext, *argv: str) -> int:
        """``connmgr <argv>`` as the console script parses it, run for ``ctx``."""
        args: argparse.Namespace = build_parser().parse_args(list(argv))
        code: int = await args.handler(args, ctx)
        return code


@contextlib.asynccontextmanager
async def declared_stack(folder: Path) -> AsyncIterator[Stack]:
    await require_services("nats", "postgres")
    async with contextlib.AsyncExitStack() as exits:
        server = await exits.enter_async_context(NatsServer(folder / "nats"))
        url = await exits.enter_async_context(temporary_postgres_database())
        engine = create_engine(url)
        exits.push_async_callback(engine.dispose)
        await migrate(engine)
        pools_nc = await nats.connect(server.url)
        exits.push_async_callback(pools_nc.drain)
        api = TestClient(TestServer(create_app(Settings(database_url=url), engine=engine)))
        await api.start_server()
        exits.push_async_callback(api.close)
        stack = Stack(server.url, engine, api)
        await _start_pools(stack, pools_nc, exits)
        yield stack


async def _start_pools(stack: Stack, nc: Client, exits: contextlib.AsyncExitStack) -> None:
    keyring = Keyring.generate()
    runner = CheckRunner(build_checks(Egress(EgressPolicy(allow_loopback=True))), 16, 4)
    pools = (
        EncryptorPool(nc, stack.engine, EncryptorPorts(keyring, False), batch_size=32),
        TesterPool(nc, stack.engine, keyring, runner, allow_plaintext=False, max_in_flight=32),
    )
    await run_pools(pools, stack.tasks, exits)
