"""No message stops a consumer adapter (issue 9, item 4).

Whoever learns a pool's pull inbox can publish into it: a plain message (no
JetStream metadata), or have another stream's consumer deliver there. Both
adapters drop such messages with a warning, neither processed nor settled, and
go on handling their own deliveries; a failing ack or nak never stops a batch.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from connmgr.schemas.bus.consumers import ConsumerSpec
from connmgr.workers.concurrent_consumer import ConcurrentConsumer
from connmgr.workers.consumer import BatchConsumer, ConsumerOptions, settle
from connmgr.workers.durables import consumer_config
from support.fixture_types import StartNatsServer
from support.pull_inbox import pull_inbox
from support.waiting import wait_for

WORK = ConsumerSpec("pool", ("work.>",), max_deliver=5, ack_wait_s=30.0, max_ack_pending=100)
OTHER = ConsumerSpec("other", ("other.>",), max_deliver=5, ack_wait_s=30.0, max_ack_pending=100)


@dataclass
class Handled:
    bodies: list[bytes] = field(default_factory=list)

    async def one(self, message: Msg) -> bool:
        self.bodies.append(message.data)
        return True

    async def batch(self, messages: list[Msg]) -> list[bool]:
        return [await self.one(message) for message in messages]


Adapter = Callable[[JetStreamContext, Handled], Callable[[asyncio.Event], Awaitable[None]]]
ADAPTERS: dict[str, Adapter] = {
    "batch": lambda js, handled: (
        BatchConsumer(js, "WORK", WORK, handled.batch, ConsumerOptions(batch_size=8)).run
    ),
    "concurrent": lambda js, handled: ConcurrentConsumer(js, "WORK", WORK, handled.one, 8).run,
}


@pytest.fixture
async def nc(nats_server_factory: StartNatsServer) -> AsyncIterator[Client]:
    server = await nats_server_factory()
    client = await nats.connect(server.url)
    js = client.jetstream()
    for name, spec in (("WORK", WORK), ("OTHER", OTHER)):
        await js.add_stream(StreamConfig(name=name, subjects=list(spec.filter_subjects)))
        await js.add_consumer(name, consumer_config(spec))
    yield client
    await client.close()


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
async def test_plain_and_foreign_messages_in_the_pull_inbox_are_dropped(
    nc: Client, adapter: str
) -> None:
    js, handled, stop = nc.jetstream(), Handled(), asyncio.Event()
    running = asyncio.create_task(ADAPTERS[adapter](js, handled)(stop))
    try:
        await js.publish("work.1", b"first")  # positive control: its own delivery
        await wait_for(lambda: handled.bodies == [b"first"], message="the first is handled")
        inbox = await pull_inbox(nc, "WORK", WORK.durable)
        await nc.publish(inbox, b"plain")
        await js.publish("other.1", b"foreign")
        request = json.dumps({"batch": 1, "expires": 2_000_000_000}).encode()
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.OTHER.{OTHER.durable}", request, reply=inbox)
        other = await js.consumer_info("OTHER", OTHER.durable)
        await wait_for(
            lambda: _delivered(js), message="the other stream delivered into the pool's inbox"
        )
        await js.publish("work.2", b"second")
        await wait_for(lambda: handled.bodies == [b"first", b"second"], message="next is handled")
        assert not running.done()
        other = await js.consumer_info("OTHER", OTHER.durable)
        assert (other.num_ack_pending, other.num_pending) == (1, 0)  # neither acked nor nak'd
        work = await js.consumer_info("WORK", WORK.durable)
        assert (work.num_ack_pending, work.num_pending) == (0, 0)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


async def _delivered(js: JetStreamContext) -> bool:
    return (await js.consumer_info("OTHER", OTHER.durable)).delivered.consumer_seq == 1


@dataclass
class Settled:
    acked: list[str] = field(default_factory=list)


class RecordingMsg(Msg):
    def __init__(self, name: str, settled: Settled, fails: bool) -> None:
        super().__init__(cast(Any, None), subject=name, reply="")
        self.name, self.settled, self.fails = name, settled, fails

    async def ack(self) -> None:
        if self.fails:
            raise ConnectionError("the connection is gone")
        self.settled.acked.append(self.name)


async def test_a_failing_ack_never_stops_the_others_of_a_batch() -> None:
    settled = Settled()
    batch = [RecordingMsg(name, settled, fails=name == "b") for name in ("a", "b", "c")]
    consumer = BatchConsumer(
        cast(JetStreamContext, None),
        "WORK",
        WORK,
        lambda messages: _all_final(messages),
        ConsumerOptions(batch_size=3),
    )
    await consumer._handle(list(batch))
    assert settled.acked == ["a", "c"]


async def _all_final(messages: list[Msg]) -> list[bool]:
    return [True] * len(messages)


async def test_a_nak_of_a_message_without_metadata_is_logged_not_raised() -> None:
    await settle(Msg(cast(Any, None), subject="x", reply=""), final=False)
    await settle(Msg(cast(Any, None), subject="x", reply=""), final=True)
