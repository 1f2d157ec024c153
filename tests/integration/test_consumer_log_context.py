"""Both consumer adapters bind each message's log context, on a real nats-server.

The failure lines the adapters log themselves (``message_failed``,
``settle_failed``, ``batch_failed``) and every line a handler logs carry the
message's tenant, connection, command and correlation ids, stream sequence and
delivery count (``workers/message_context.py``); a batch's lines carry its size
and first and last sequence; and nothing of one message is left on the next.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import StreamConfig
from structlog.typing import EventDict

from connmgr.schemas.bus.consumers import ConsumerSpec
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.subjects import command_subject
from connmgr.workers.concurrent_consumer import ConcurrentConsumer
from connmgr.workers.consumer import BatchConsumer, ConsumerOptions
from connmgr.workers.durables import consumer_config
from support.commands import command, encode, postgres_payload
from support.fixture_types import StartNatsServer
from support.logging_capture import captured_lines
from support.waiting import wait_for

POOL = ConsumerSpec("pool", ("connmgr.cmd.>",), max_deliver=5, ack_wait_s=30.0, max_ack_pending=100)
log = structlog.get_logger("connmgr.test")


@pytest.fixture
async def nc(nats_server_factory: StartNatsServer) -> AsyncIterator[Client]:
    server = await nats_server_factory()
    client = await nats.connect(server.url)
    js = client.jetstream()
    await js.add_stream(StreamConfig(name="CMDS", subjects=list(POOL.filter_subjects)))
    await js.add_consumer("CMDS", consumer_config(POOL))
    yield client
    await client.close()


async def publish(nc: Client, tenant: str, **extra: Any) -> dict[str, str]:
    """A create command of ``tenant``; returns the ids its lines should carry."""
    connection_id, command_id = str(uuid.uuid4()), str(uuid.uuid4())
    document = command("create", connection_id, postgres_payload(), tenant=tenant, **extra)
    document["command_id"] = command_id
    subject = command_subject(tenant, "create", connection_id)
    await nc.jetstream().publish(subject, encode(document), headers={MSG_ID_HEADER: command_id})
    return {"tenant": tenant, "connection_id": connection_id, "command_id": command_id}


def lines_of(lines: list[EventDict], event: str) -> list[EventDict]:
    return [line for line in lines if line["event"] == event]


async def test_the_concurrent_adapter_logs_a_failing_message_in_its_context(nc: Client) -> None:
    async def handle(message: Msg) -> bool:
        log.info("handling")
        if ".acme." in message.subject:
            raise RuntimeError("the handler failed")
        return True

    acme = await publish(nc, "acme", correlation_id="req-9")
    globex = await publish(nc, "globex")
    stop = asyncio.Event()
    with captured_lines() as lines:
        running = asyncio.create_task(
            ConcurrentConsumer(nc.jetstream(), "CMDS", POOL, handle, 8).run(stop)
        )
        try:
            await wait_for(
                lambda: len(lines_of(lines, "handling")) >= 2 and lines_of(lines, "message_failed")
            )
        finally:
            stop.set()
            await asyncio.wait_for(running, 10)
    failed = lines_of(lines, "message_failed")[0]
    assert failed | acme == failed  # tenant, connection and command ids
    assert (failed["correlation_id"], failed["durable"]) == ("req-9", "pool")
    assert (failed["stream_sequence"], failed["delivery"]) == (1, 1)
    assert failed["exc_info"] is True
    handling = {line["tenant"]: line for line in lines_of(lines, "handling")}
    assert handling["acme"]["correlation_id"] == "req-9"
    assert handling["globex"] | globex == handling["globex"]
    assert "correlation_id" not in handling["globex"]  # nothing of acme's message
    assert handling["globex"]["stream_sequence"] == 2


async def test_the_batch_adapter_logs_a_batch_and_each_settling_in_their_context(
    nc: Client,
) -> None:
    """The handler acks each message itself, so the adapter's own ack fails:
    ``settle_failed`` must say which message it concerns."""
    failing = asyncio.Event()

    async def process(messages: list[Msg]) -> list[bool]:
        log.info("processing")
        if failing.is_set():
            raise RuntimeError("the database is away")
        for message in messages:
            await message.ack()
        return [True] * len(messages)

    sent = [await publish(nc, "acme", correlation_id="req-1"), await publish(nc, "globex")]
    stop = asyncio.Event()
    consumer = BatchConsumer(nc.jetstream(), "CMDS", POOL, process, ConsumerOptions(batch_size=8))
    with captured_lines() as lines:
        running = asyncio.create_task(consumer.run(stop))
        try:
            await wait_for(lambda: len(lines_of(lines, "settle_failed")) == 2)
            failing.set()
            third = await publish(nc, "initech")
            await wait_for(lambda: bool(lines_of(lines, "batch_failed")))
        finally:
            stop.set()
            await asyncio.wait_for(running, 10)
    first_batch = {"durable": "pool", "batch_size": 2, "first_sequence": 1, "last_sequence": 2}
    processing = lines_of(lines, "processing")[0]
    assert processing | first_batch == processing
    assert "tenant" not in processing  # a batch is no one message
    settled = lines_of(lines, "settle_failed")
    for line, ids, sequence in zip(settled, sent, (1, 2), strict=True):
        assert line | ids | first_batch == line
        assert line["stream_sequence"] == sequence
        assert line["exc_info"] is True
    assert settled[0]["correlation_id"] == "req-1"
    assert "correlation_id" not in settled[1]
    failed = lines_of(lines, "batch_failed")[0]
    assert failed | {"batch_size": 1, "first_sequence": 3, "last_sequence": 3} == failed
    assert "tenant" not in failed
    assert third["command_id"] not in str(lines_of(lines, "processing")[0])
    assert structlog.contextvars.get_contextvars() == {}
