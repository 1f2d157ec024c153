"""The notifier against a real nats-server and PostgreSQL, delivering to a local receiver.

``start_stack(policy=…, egress=…)`` -> a ``NotifierStack``: a private
nats-server, a fresh migrated database, channels created through the encryptor
batch (secrets sealed to the stack's key ring), a started ``NotifierPool`` and
a ``Receiver``; everything stops after the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import nats
import pytest
from notifier_peers import Receiver
from notifier_stack import FAST, NotifierStack, StartStack
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import create_engine, migrate
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.encryptor.batch import EncryptorBatch
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.keyring import Keyring
from connmgr.workers.notifier import DeliveryPolicy, NotifierPool
from support.encryptor import Encryptor
from support.fixture_types import NewPostgresUrl, StartNatsServer
from support.haystacks import message_text


@pytest.fixture
async def start_stack(
    nats_server_factory: StartNatsServer, fresh_pg_url: NewPostgresUrl
) -> AsyncIterator[StartStack]:
    async with AsyncExitStack() as cleanup:

        async def start(
            policy: DeliveryPolicy = FAST, egress: Egress | None = None
        ) -> NotifierStack:
            server = await nats_server_factory()
            engine = create_engine(await fresh_pg_url())
            cleanup.push_async_callback(engine.dispose)
            await migrate(engine)
            nc, spy = await nats.connect(server.url), await nats.connect(server.url)
            cleanup.push_async_callback(nc.drain)
            cleanup.push_async_callback(spy.drain)
            keyring = Keyring.generate()
            receiver = Receiver()
            await receiver.start()
            cleanup.push_async_callback(receiver.stop)
            egress = egress or Egress(EgressPolicy(allow_loopback=True))
            pool = NotifierPool(nc, engine, keyring, egress, policy=policy, max_in_flight=8)
            stack = NotifierStack(nc, engine, keyring, _encryptor(engine, keyring), receiver, pool)

            async def record(message: Any) -> None:
                stack.wire.append(message_text(message).encode())

            await spy.subscribe(">", cb=record)
            await pool.start()
            stop = asyncio.Event()
            task = asyncio.create_task(pool.run(stop))
            cleanup.push_async_callback(_stop, stop, task)
            return stack

        yield start


async def _stop(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, 30)


def _encryptor(engine: AsyncEngine, keyring: Keyring) -> Encryptor:
    ports = EncryptorPorts(keyring=keyring, allow_plaintext=False)
    return Encryptor(engine, keyring, EncryptorBatch(engine, ports, max_deliver=5))
