"""``ConsumerOptions.in_flight``: the batch consumer fetches and handles the next batch
while earlier ones are still being handled, at most ``in_flight`` at once, and on
``stop`` finishes every batch in hand, settling each of its messages, before it returns.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import StreamConfig

from connmgr.schemas.bus.consumers import ConsumerSpec
from connmgr.workers.consumer import BatchConsumer, ConsumerOptions
from connmgr.workers.durables import consumer_config
from support.fixture_types import StartNatsServer
from support.waiting import wait_for

WORK = ConsumerSpec("pool", ("work.>",), max_deliver=5, ack_wait_s=30.0, max_ack_pending=100)


@dataclass
class HeldBatches:
    """``process`` that holds each message until it is released."""

    started: list[bytes] = field(default_factory=list)
    finished: list[bytes] = field(default_factory=list)
    releases: defaultdict[bytes, asyncio.Event] = field(
        default_factory=lambda: defaultdict(asyncio.Event)
    )

    async def process(self, messages: list[Msg]) -> list[bool]:
        bodies = [message.data for message in messages]
        self.started += bodies
        for body in bodies:
            await self.releases[body].wait()
        self.finished += bodies
        return [True] * len(messages)

    def release(self, *bodies: bytes) -> None:
        for body in bodies:
            self.releases[body].set()


@pytest.fixture
async def nc(nats_server_factory: StartNatsServer) -> AsyncIterator[Client]:
    server = await nats_server_factory()
    client = await nats.connect(server.url)
    js = client.jetstream()
    await js.add_stream(StreamConfig(name="WORK", subjects=list(WORK.filter_subjects)))
    await js.add_consumer("WORK", consumer_config(WORK))
    yield client
    await client.close()


def consumer(nc: Client, held: HeldBatches, in_flight: int) -> BatchConsumer:
    options = ConsumerOptions(batch_size=1, fetch_timeout_s=0.2, in_flight=in_flight)
    return BatchConsumer(nc.jetstream(), "WORK", WORK, held.process, options)


async def test_the_next_batch_is_handled_while_one_is_in_hand_up_to_the_limit(
    nc: Client,
) -> None:
    js, held, stop = nc.jetstream(), HeldBatches(), asyncio.Event()
    running = asyncio.create_task(consumer(nc, held, in_flight=2).run(stop))
    try:
        for body in (b"1", b"2", b"3"):
            await js.publish("work.x", body)
        await wait_for(lambda: held.started == [b"1", b"2"], message="two batches in hand")
        info = await js.consumer_info("WORK", WORK.durable)
        assert (info.num_ack_pending, info.num_pending) == (2, 1)  # the third waits its turn

        held.release(b"1", b"2", b"3")
        await wait_for(lambda: held.started == [b"1", b"2", b"3"], message="the third is handled")
        await wait_for(lambda: _settled(nc), message="all three acked")
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


async def test_on_stop_every_batch_in_hand_is_finished_and_settled(nc: Client) -> None:
    js, held, stop = nc.jetstream(), HeldBatches(), asyncio.Event()
    running = asyncio.create_task(consumer(nc, held, in_flight=2).run(stop))
    for body in (b"1", b"2"):
        await js.publish("work.x", body)
    await wait_for(lambda: held.started == [b"1", b"2"], message="two batches in hand")

    stop.set()
    held.release(b"1")
    await wait_for(lambda: held.finished == [b"1"], message="the first batch is finished")
    held.release(b"2")  # the second was still in hand when the loop saw stop
    await asyncio.wait_for(running, 10)

    assert held.finished == [b"1", b"2"]
    await wait_for(lambda: _settled(nc), message="both acked (the server counts acks async)")


async def _settled(nc: Client) -> bool:
    info = await nc.jetstream().consumer_info("WORK", WORK.durable)
    return (info.num_ack_pending, info.num_pending) == (0, 0)
