"""Issue 9, item 4: a message that reaches the encryptor's pull inbox some other way
(a plain publish, or a create whose ``reply_to`` names that inbox) is dropped by the
consumer adapter; the pool goes on handling commands and its loop never ends."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client

from connmgr.schemas.bus.consumers import ENCRYPTOR_CONSUMER
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.storage.database import create_engine, migrate
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from support.commands import TENANT, command, encode, postgres_payload, subject_of
from support.fixture_types import NewPostgresUrl, StartNatsServer
from support.pull_inbox import pull_inbox
from support.waiting import DELIVERY_TIMEOUT_S


@pytest.fixture
async def running(
    nats_server_factory: StartNatsServer, fresh_pg_url: NewPostgresUrl
) -> AsyncIterator[tuple[Client, asyncio.Task[None]]]:
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    nc = await nats.connect(server.url, inbox_prefix=tenant_inbox_prefix(TENANT))
    pool = EncryptorPool(nc, engine, EncryptorPorts(Keyring.generate(), True), batch_size=16)
    await pool.start()
    stop = asyncio.Event()
    task = asyncio.create_task(pool.run(stop))
    yield nc, task
    stop.set()
    await asyncio.wait_for(task, 10)
    await nc.drain()
    await engine.dispose()


async def create(nc: Client, reply_to: str | None = None) -> dict[str, object] | None:
    payload = postgres_payload(name=f"db-{uuid.uuid4().hex}", auth={"method": "none"})
    document = command("create", str(uuid.uuid4()), payload)  # names are unique per tenant
    inbox = reply_to or nc.new_inbox()
    replies = await nc.subscribe(inbox) if reply_to is None else None
    headers = {MSG_ID_HEADER: document["command_id"]}
    body = encode({**document, "reply_to": inbox})
    await nc.jetstream().publish(subject_of(document), body, headers=headers)
    if replies is None:
        return None
    reply = await replies.next_msg(timeout=DELIVERY_TIMEOUT_S)
    await replies.unsubscribe()
    return dict(json.loads(reply.data))


async def test_messages_led_into_the_pull_inbox_never_stop_the_encryptor(
    running: tuple[Client, asyncio.Task[None]],
) -> None:
    nc, task = running
    assert (await create(nc) or {})["outcome"] == "accepted"  # positive control
    inbox = await pull_inbox(nc, COMMAND_STREAM, ENCRYPTOR_CONSUMER.durable)
    await nc.publish(inbox, b"not a JetStream message")
    await create(nc, reply_to=inbox)  # its outcome is published into the pull inbox
    for _ in range(3):
        assert (await create(nc) or {})["outcome"] == "accepted"
    assert not task.done()
    info = await nc.jetstream().consumer_info(COMMAND_STREAM, ENCRYPTOR_CONSUMER.durable)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
