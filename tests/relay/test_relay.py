"""The relay publishes every committed event once, in order, none skipped — on both backends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus import EVENT_STREAM, MSG_ID_HEADER
from connmgr.storage.database import create_engine, migrate, write_transaction
from connmgr.storage.event_log import Appender, PendingEvent
from connmgr.storage.tables import relay_checkpoints
from connmgr.workers.relay import Relay
from support.waiting import wait_for


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def js(nats_server_factory) -> AsyncIterator[JetStreamContext]:  # type: ignore[no-untyped-def]
    server = await nats_server_factory()
    nc = await nats.connect(server.url)
    yield nc.jetstream()
    await nc.drain()


def event(stream: str, version: int, tenant: str = "acme") -> PendingEvent:
    secrets = {
        "secrets_version": 1,
        "field_names": ["password"],
        "nonce": "bm9uY2U=",
        "ciphertext": "c2VjcmV0",
    }
    return PendingEvent(
        stream, version, "SecretsRotated", tenant, {"secrets": secrets}, {"command_id": None}
    )


async def append(engine: AsyncEngine, *events: PendingEvent) -> None:
    async with write_transaction(engine) as connection:
        appender = await Appender.begin(connection)
        await appender.append(list(events))
        await appender.finish()


async def published(js: JetStreamContext) -> list[dict[str, object]]:
    info = await js.stream_info(EVENT_STREAM)
    messages = []
    for sequence in range(1, info.state.last_seq + 1):
        message = await js.get_msg(EVENT_STREAM, sequence)
        body = json.loads(message.data or b"{}")
        body["_msg_id"] = (message.headers or {}).get(MSG_ID_HEADER)
        body["_subject"] = message.subject
        messages.append(body)
    return messages


async def drain(relay: Relay) -> None:
    while await relay.relay_once():
        pass


async def test_every_event_is_published_once_even_when_relayed_again(
    engine: AsyncEngine, js: JetStreamContext
) -> None:
    relay = Relay(js, engine, batch_size=3)
    await relay.start()
    await append(engine, *(event(f"s{n % 3}", n // 3 + 1) for n in range(10)))
    await drain(relay)
    async with write_transaction(engine) as connection:  # a crash before the checkpoint moved
        await connection.execute(delete(relay_checkpoints))
    await drain(relay)
    messages = await published(js)
    assert len(messages) == 10
    assert [m["_msg_id"] for m in messages] == [m["event_id"] for m in messages]
    assert [m["position"] for m in messages] == list(range(1, 11))
    assert messages[0]["_subject"] == "connmgr.evt.acme.s0.SecretsRotated"
    assert all("ciphertext" not in json.dumps(m) and "nonce" not in json.dumps(m) for m in messages)


async def test_an_event_committing_late_is_not_skipped(
    engine: AsyncEngine, js: JetStreamContext
) -> None:
    relay = Relay(js, engine, batch_size=100)
    await relay.start()
    await append(engine, event("a", 1))
    await drain(relay)
    async with write_transaction(engine) as slow:
        appender = await Appender.begin(slow)
        await appender.append([event("b", 1)])  # position 2, not yet committed
        await appender.finish()
        later = asyncio.create_task(append(engine, event("c", 1)))  # waits behind it
        assert await relay.relay_once() == 0
        assert not later.done()
    await later
    await drain(relay)
    assert [(m["position"], m["stream_id"]) for m in await published(js)] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]


async def test_events_of_no_tenant_stay_in_the_log(
    engine: AsyncEngine, js: JetStreamContext
) -> None:
    relay = Relay(js, engine, batch_size=10)
    await relay.start()
    await append(engine, event("x", 1, tenant=""), event("y", 1))
    await drain(relay)
    assert [m["stream_id"] for m in await published(js)] == ["y"]


async def test_the_running_relay_follows_new_events(
    engine: AsyncEngine, js: JetStreamContext
) -> None:
    relay = Relay(js, engine, batch_size=10)
    await relay.start()
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await append(engine, event("a", 1))
    await append(engine, event("a", 2))
    await wait_for(lambda: _count(js, 2), message="both events are relayed")
    stop.set()
    await asyncio.wait_for(task, 10)


async def _count(js: JetStreamContext, expected: int) -> bool:
    return (await js.stream_info(EVENT_STREAM)).state.messages == expected
