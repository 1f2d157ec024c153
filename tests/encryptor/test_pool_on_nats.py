"""The encryptor pool against a real nats-server: replies, dedupe, redelivery, bad input."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.consumers import ENCRYPTOR_CONSUMER
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.bus.streams import COMMAND_STREAM, KEYS_BUCKET, SEAL_KEY_ENTRY
from connmgr.schemas.sealed import SealKeyInfo
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.tables import events, handled_commands
from connmgr.workers.encryptor.batch import EncryptorBatch, Inbound
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring, KeyringError, verify_keyring_opens
from connmgr.workers.message_context import HANDLED
from support.commands import TENANT, command, encode, postgres_payload, sealed, subject_of
from support.haystacks import database_text, message_text
from support.leaks import LeakChannels
from support.logging_capture import captured_lines
from support.waiting import DELIVERY_TIMEOUT_S, wait_for

PASSWORD = "pa55-Never-Seen-On-The-Wire"


@dataclass
class Stack:
    nc: Client
    engine: AsyncEngine
    keyring: Keyring
    wire: list[bytes] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def start_pool(self) -> None:
        pool = EncryptorPool(
            self.nc, self.engine, EncryptorPorts(self.keyring, False), batch_size=64
        )
        await pool.start()
        self.task = asyncio.create_task(pool.run(self.stop))

    async def seal_key(self) -> SealKeyInfo:
        entry = await (await self.nc.jetstream().key_value(KEYS_BUCKET)).get(SEAL_KEY_ENTRY)
        assert entry.value is not None
        return SealKeyInfo.model_validate_json(entry.value)

    async def publish(
        self,
        document: dict[str, Any] | bytes,
        subject: str | None = None,
        msg_id: str | None = None,
    ) -> None:
        data = document if isinstance(document, bytes) else encode(document)
        target = subject or subject_of(document)  # type: ignore[arg-type]
        headers = {MSG_ID_HEADER: msg_id} if msg_id else None
        await self.nc.jetstream().publish(target, data, headers=headers)

    async def request(self, document: dict[str, Any]) -> dict[str, Any]:
        inbox = self.nc.new_inbox()
        subscription = await self.nc.subscribe(inbox)
        await self.publish({**document, "reply_to": inbox}, msg_id=document["command_id"])
        reply = await subscription.next_msg(timeout=DELIVERY_TIMEOUT_S)
        await subscription.unsubscribe()
        return json.loads(reply.data)

    async def count(self, table: Any) -> int:
        async with self.engine.connect() as connection:
            return int(
                (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            )


@pytest.fixture
async def stack(nats_server_factory, fresh_pg_url) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    nc = await nats.connect(server.url, inbox_prefix=tenant_inbox_prefix(TENANT))
    spy = await nats.connect(server.url)
    stack = Stack(nc=nc, engine=engine, keyring=Keyring.generate())

    async def record(message: Any) -> None:
        stack.wire.append(message_text(message).encode())

    await spy.subscribe(">", cb=record)
    yield stack
    stack.stop.set()
    if stack.task is not None:
        await asyncio.wait_for(stack.task, 10)
    await spy.drain()
    await nc.drain()
    await engine.dispose()


async def test_create_round_trips_with_the_secret_sealed_on_the_wire(
    stack: Stack, leak_channels: LeakChannels
) -> None:
    await stack.start_pool()
    connection_id = str(uuid.uuid4())
    key = await stack.seal_key()
    payload = postgres_payload(secrets=sealed({"password": PASSWORD}, key, connection_id))
    reply = await stack.request(command("create", connection_id, payload))
    assert (reply["outcome"], reply["version"], reply["events"]) == (
        "accepted",
        1,
        ["ConnectionCreated"],
    )
    assert stack.wire, "the spy saw no traffic"
    leak_channels.secrets(PASSWORD)
    leak_channels.add("nats traffic", b"\n".join(stack.wire))
    leak_channels.add("reply", reply)
    for table, rows in (await database_text(stack.engine)).items():
        leak_channels.add(table, rows)
    leak_channels.assert_clean()


async def test_a_republished_command_changes_nothing(stack: Stack) -> None:
    await stack.start_pool()
    connection_id = str(uuid.uuid4())
    document = command("create", connection_id, postgres_payload(auth={"method": "none"}))
    await stack.publish(document, msg_id=document["command_id"])
    await stack.publish(document, msg_id=document["command_id"])
    await stack.publish(document, msg_id=str(uuid.uuid4()))  # as if after the duplicate window
    await wait_for(lambda: stack.count(handled_commands), message="the command is handled")
    consumer = await stack.nc.jetstream().consumer_info(COMMAND_STREAM, ENCRYPTOR_CONSUMER.durable)
    await wait_for(lambda: _drained(stack), message="every copy is acknowledged", timeout=15)
    assert consumer.config.max_deliver == ENCRYPTOR_CONSUMER.max_deliver
    assert await stack.count(events) == 1


async def _drained(stack: Stack) -> bool:
    info = await stack.nc.jetstream().consumer_info(COMMAND_STREAM, ENCRYPTOR_CONSUMER.durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_a_message_applied_but_not_acked_is_recognised_on_redelivery(stack: Stack) -> None:
    await stack.start_pool()
    stack.stop.set()
    assert stack.task is not None
    await stack.task
    connection_id = str(uuid.uuid4())
    document = command("create", connection_id, postgres_payload(auth={"method": "none"}))
    await stack.publish(document)
    subscription = await stack.nc.jetstream().pull_subscribe_bind(
        ENCRYPTOR_CONSUMER.durable, COMMAND_STREAM
    )
    (message,) = await subscription.fetch(1, timeout=5)
    batch = EncryptorBatch(
        stack.engine, EncryptorPorts(stack.keyring, False), ENCRYPTOR_CONSUMER.max_deliver
    )
    inbound = Inbound(message.data, message.subject, None, message.metadata.sequence.stream, 1)
    await batch.process([inbound])  # committed, then the worker "dies" before acking
    await message.nak()
    await subscription.unsubscribe()
    stack.stop = asyncio.Event()
    await stack.start_pool()
    await wait_for(lambda: _drained(stack), message="the redelivery is acknowledged", timeout=15)
    assert await stack.count(events) == 1
    assert await stack.count(handled_commands) == 1


async def test_poison_and_oversized_messages_do_not_block_the_next_command(stack: Stack) -> None:
    await stack.start_pool()
    connection_id = str(uuid.uuid4())
    good = command("create", connection_id, postgres_payload(auth={"method": "none"}))
    subject = subject_of(good)
    await stack.publish(b"\xff\xfe garbage", subject=subject)
    await stack.publish(b"{" + b" " * (100 * 1024) + b"}", subject=subject)
    reply = await stack.request(good)
    assert reply["outcome"] == "accepted"
    await wait_for(lambda: _drained(stack), message="all three are acknowledged", timeout=15)
    async with stack.engine.connect() as connection:
        reasons = (
            (
                await connection.execute(
                    select(events.c.data["reason"]).where(events.c.type == "CommandRejected")
                )
            )
            .scalars()
            .all()
        )
    assert sorted(str(r).strip('"') for r in reasons) == ["invalid_json", "too_large"]


async def test_a_key_ring_that_cannot_open_stored_keys_refuses_to_start(stack: Stack) -> None:
    await stack.start_pool()
    connection_id = str(uuid.uuid4())
    key = await stack.seal_key()
    payload = postgres_payload(secrets=sealed({"password": PASSWORD}, key, connection_id))
    assert (await stack.request(command("create", connection_id, payload)))["outcome"] == "accepted"
    with pytest.raises(KeyringError):
        await verify_keyring_opens(stack.engine, Keyring.generate())
    stranger = EncryptorPool(stack.nc, stack.engine, EncryptorPorts(Keyring.generate(), False), 8)
    with pytest.raises(KeyringError):
        await stranger.start()


async def test_each_command_is_logged_handled_with_its_ids_and_its_own_duration(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ``message_handled`` line per command, with the subject's tenant and the
    command's ids; ``duration_ms`` is the message's own time (the whole batch's wait
    included), never the batch's time divided among its messages."""
    transaction = EncryptorBatch.process

    async def slow(batch: EncryptorBatch, items: list[Inbound]) -> list[Any]:
        await asyncio.sleep(0.3)
        return await transaction(batch, items)

    monkeypatch.setattr(EncryptorBatch, "process", slow)
    pool = EncryptorPool(stack.nc, stack.engine, EncryptorPorts(stack.keyring, False), 64)
    await pool.start()
    plain = postgres_payload(auth={"method": "none"})
    first = command("create", str(uuid.uuid4()), plain, correlation_id="order-7")
    second = command("create", str(uuid.uuid4()), {**plain, "name": "second"})  # names unique
    forged = command("create", str(uuid.uuid4()), plain, tenant="globex")  # body of another tenant
    for document in (first, second):
        await stack.publish(document, msg_id=document["command_id"])
    await stack.publish(forged, subject=subject_of(forged, TENANT), msg_id=forged["command_id"])
    with captured_lines() as lines:
        stack.task = asyncio.create_task(pool.run(stack.stop))  # all three in one batch
        await wait_for(lambda: len([x for x in lines if x["event"] == HANDLED]) == 3)
    handled = {line["command_id"]: line for line in lines if line["event"] == HANDLED}
    for document in (first, second, forged):
        line = handled[document["command_id"]]
        assert line["tenant"] == TENANT
        assert line["connection_id"] == document["connection_id"]
        assert (line["durable"], line["batch_size"]) == (ENCRYPTOR_CONSUMER.durable, 3)
        assert line["duration_ms"] >= 300
    assert handled[first["command_id"]]["correlation_id"] == "order-7"
    assert "correlation_id" not in handled[second["command_id"]]
    assert [handled[d["command_id"]]["outcome"] for d in (first, second)] == ["accepted"] * 2
    assert handled[forged["command_id"]]["reason"] == "tenant_mismatch"
    assert "globex" not in str(lines)
