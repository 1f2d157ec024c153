"""One connmgr stack for a whole test module: commands in over NATS, every output tapped.

A private nats-server from the wheel, a fresh PostgreSQL database, and the real
encryptor, tester (every kind's check, loopback allowed) and relay pools on it,
plus the read API in-process with a read token. A producer connection (replies
under the tenant's own inbox prefix) sends commands; a separate unrestricted
connection taps ``>``; connmgr's logging runs at debug into a buffer.

``Stack.mark()`` notes where the taps stand, and ``Stack.haystacks(mark, …)``
returns everything produced since: the reply, the NATS messages, the log output
and records, every database table and the API's answers about the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from aiohttp.test_utils import TestClient, TestServer
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api import create_app
from connmgr.runtime.nats_server import NatsServer
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.bus.subjects import event_subject
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.tokens import issue_token
from connmgr.workers.checks.registry import build_checks
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from connmgr.workers.relay.service import Relay
from connmgr.workers.tester.service import TesterPool
from support import require_services, wait_for
from support.commands import TENANT, command, encode, sealed, subject_of
from support.databases import temporary_postgres_database
from support.haystacks import LogTap, NatsTap, api_texts, database_text, records_text
from support.running_pools import run_pools

REPLY_TIMEOUT_S = 30


@dataclass(frozen=True)
class Mark:
    nats: int
    log: int
    records: int


@dataclass
class Stack:
    producer: Client
    engine: AsyncEngine
    keyring: Keyring
    api: TestClient[Any, Any]
    token: str
    nats_tap: NatsTap
    log_tap: LogTap
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def request(self, document: dict[str, Any]) -> dict[str, Any]:
        inbox = self.producer.new_inbox()
        subscription = await self.producer.subscribe(inbox)
        body = encode({**document, "reply_to": inbox})
        headers = {MSG_ID_HEADER: document["command_id"]}
        await self.producer.jetstream().publish(subject_of(document), body, headers=headers)
        reply = await subscription.next_msg(timeout=REPLY_TIMEOUT_S)
        await subscription.unsubscribe()
        return dict(json.loads(reply.data))

    async def create(self, payload: dict[str, Any], secrets: dict[str, str]) -> str:
        connection_id = str(uuid.uuid4())
        sealing = sealed(secrets, self.keyring.seal_public_info(), connection_id)
        name = f"{payload['name']}-{connection_id[:8]}"  # names are unique per tenant
        reply = await self.request(
            command("create", connection_id, {**payload, "name": name, "secrets": sealing})
        )
        assert reply["outcome"] == "accepted", reply
        return connection_id

    async def test(self, connection_id: str) -> dict[str, Any]:
        """A test command, answered, and its ``ConnectionTested`` relayed to the event stream."""
        reply = await self.request(command("test", connection_id, {}))
        relayed = event_subject(TENANT, connection_id, "ConnectionTested")
        await wait_for(lambda: relayed in self.nats_tap.subjects(), message=f"relay of {relayed}")
        return reply

    def mark(self) -> Mark:
        return Mark(
            len(self.nats_tap.messages), len(self.log_tap.text()), len(self.log_tap.keeper.records)
        )

    async def haystacks(
        self, since: Mark, connection_id: str, reply: dict[str, Any]
    ) -> dict[str, str | bytes]:
        texts: dict[str, str | bytes] = {"reply (outcome and result)": json.dumps(reply)}
        tapped = NatsTap(self.nats_tap.messages[since.nats :])
        texts["nats traffic"] = tapped.text()
        texts["log output"] = self.log_tap.text()[since.log :]
        texts["log records"] = records_text(self.log_tap.keeper.records[since.records :])
        texts.update(await database_text(self.engine))
        paths = [
            f"/api/connections/{connection_id}",
            f"/api/connections/{connection_id}/logs",
            f"/api/connections/{connection_id}/checks",
            "/api/connections",
            "/api/events",
            "/api/connections/health/summary",
        ]
        texts.update(await api_texts(self.api, self.token, paths))
        return texts


@contextlib.asynccontextmanager
async def reflection_stack(folder: Path) -> AsyncIterator[Stack]:
    await require_services("nats", "postgres")
    async with contextlib.AsyncExitStack() as exits:
        log_tap = exits.enter_context(LogTap.configured("debug"))
        server = await exits.enter_async_context(NatsServer(folder / "nats"))
        url = await exits.enter_async_context(temporary_postgres_database())
        engine = create_engine(url)
        exits.push_async_callback(engine.dispose)
        await migrate(engine)
        pools_nc = await nats.connect(server.url)
        exits.push_async_callback(pools_nc.drain)
        tap_nc = await nats.connect(server.url)
        exits.push_async_callback(tap_nc.drain)
        nats_tap = await exits.enter_async_context(NatsTap.on(tap_nc))
        producer = await nats.connect(server.url, inbox_prefix=tenant_inbox_prefix(TENANT))
        exits.push_async_callback(producer.drain)
        api = TestClient(TestServer(create_app(Settings(database_url=url), engine=engine)))
        await api.start_server()
        exits.push_async_callback(api.close)
        token = await issue_token(engine, "reflection", TENANT, ["read"])
        keyring = Keyring.generate()
        stack = Stack(producer, engine, keyring, api, token, nats_tap, log_tap)
        await _start_pools(stack, pools_nc, exits)
        yield stack


async def _start_pools(stack: Stack, nc: Client, exits: contextlib.AsyncExitStack) -> None:
    egress = Egress(EgressPolicy(allow_loopback=True))
    runner = CheckRunner(build_checks(egress), concurrency=16, per_target=4)
    pools = (
        EncryptorPool(nc, stack.engine, EncryptorPorts(stack.keyring, False), batch_size=32),
        TesterPool(
            nc, stack.engine, stack.keyring, runner, allow_plaintext=False, max_in_flight=32
        ),
        Relay(nc.jetstream(), stack.engine, batch_size=64),
    )
    await run_pools(pools, stack.tasks, exits)
