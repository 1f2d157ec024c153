"""A write stack for the command gateway: nats-server, PostgreSQL, the real pools, the API.

The API runs with the gateway mounted exactly as ``connmgr api`` mounts it
(``runtime.gateway_mount.api_app``), over an open nats-server (the gateway's
user and password are then ignored; the callout's side is tested in
``tests/security``). The pools are the runtime's (``start_pool``) and start
when a test calls ``stack.start_pools()``, so a test can see a write wait
for an outcome that has not come yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from api.clients import ApiClient
from connmgr.api.token_cache import TokenCache
from connmgr.producers.gateway import CommandGateway
from connmgr.producers.gateway_links import GatewayLinks
from connmgr.runtime.gateway_mount import api_app, caller_of
from connmgr.runtime.pool_startup import Resources, start_pool
from connmgr.runtime.pools import close_nats, connect_nats, run_until_stopped
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import SCOPE_CONNECTIONS_WRITE, issue_token
from connmgr.workers.keyring import Keyring
from connmgr.workers.streams import ensure_streams
from support.databases import migrated_engine

POOLS = ("encryptor", "tester", "prober")


@dataclass
class WriteStack:
    settings: Settings
    engine: AsyncEngine
    client: ApiClient
    resources: Resources
    writer: str
    """Tenant ``acme``: read and ``connections:write``."""
    reader: str
    """Tenant ``acme``: read only."""
    intruder: str
    """Tenant ``globex``: read and ``connections:write``."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def start_pools(self) -> None:
        for name in POOLS:
            loop = await start_pool(name, self.settings, self.resources)
            self.tasks.append(asyncio.create_task(run_until_stopped(loop, self.stop, 5.0)))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)


@pytest.fixture
def gateway_wait_s() -> float:
    return 10.0


@pytest.fixture
async def stack(
    nats_server_factory,
    fresh_pg_url,
    gateway_wait_s: float,  # type: ignore[no-untyped-def]
) -> AsyncIterator[WriteStack]:
    server = await nats_server_factory()
    async with AsyncExitStack() as exits:
        url = await fresh_pg_url()
        engine = await exits.enter_async_context(migrated_engine(url))
        settings = Settings(
            database_url=url,
            nats_url=server.url,
            egress_allow_loopback=True,
            api_writes=True,
        )
        nc = await connect_nats(settings, "gateway-tests")
        exits.push_async_callback(close_nats, nc)
        await ensure_streams(nc.jetstream())  # as `connmgr streams ensure`: before any pool
        gateway = CommandGateway(
            GatewayLinks(server.url), caller_of, wait_s=gateway_wait_s, probe_wait_s=30.0
        )
        app = api_app(settings, engine=engine, tokens=TokenCache(), gateway=gateway)
        client = await exits.enter_async_context(TestClient(TestServer(app)))
        write = ["read", SCOPE_CONNECTIONS_WRITE]
        stack = WriteStack(
            settings=settings,
            engine=engine,
            client=client,
            resources=Resources(nc=nc, engine=engine, keyring=Keyring.generate()),
            writer=await issue_token(engine, "acme-console", "acme", write),
            reader=await issue_token(engine, "acme-dashboard", "acme", ["read"]),
            intruder=await issue_token(engine, "globex-console", "globex", write),
        )
        exits.push_async_callback(stack.close)
        yield stack
