"""The relay publishes every committed event once, in order, none skipped — on both backends."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.streams import EVENT_STREAM
from connmgr.storage.database import create_engine, migrate, write_transaction
from connmgr.storage.event_log import Appender, PendingEvent
from connmgr.storage.leader_lock import RELAY_LOCK, RELAY_LOCK_KEY
from connmgr.storage.tables import relay_checkpoints
from connmgr.workers.message_context import HANDLED
from connmgr.workers.relay.service import Relay
from support.legacy_events import append_events, smtp_created_v1
from support.logging_capture import captured_lines
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


async def test_a_version_1_event_is_published_as_its_model_reads_it_today(
    engine: AsyncEngine, js: JetStreamContext
) -> None:
    relay = Relay(js, engine, batch_size=10)
    await relay.start()
    created = smtp_created_v1("notify_to: ops@example.com\nnotify_from: alerts@example.com")
    await append_events(
        engine, "5f1f7c36-2222-4a6b-9a51-000000000002", ("ConnectionCreated", created)
    )
    await drain(relay)
    (message,) = await published(js)
    data: Any = message["data"]
    assert data["schema_version"] == 2
    assert data["notify"] == {"recipients": ["ops@example.com"], "sender": "alerts@example.com"}
    assert data["description"] == created["description"]


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


UNLED_S = 1.5  # fifteen of the relay's idle polls


@pytest.fixture
async def pg_engine(fresh_pg_url) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    yield engine
    await engine.dispose()


async def _holders(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        return await RELAY_LOCK.holders(connection)


async def _cut_the_leader(engine: AsyncEngine) -> int:
    """``pg_terminate_backend`` on the session holding the relay lock; returns its pid."""
    [pid] = await wait_for(lambda: _holders(engine), message="a relay holds the lock")
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return pid


@contextlib.asynccontextmanager
async def _lock_held_elsewhere(engine: AsyncEngine) -> AsyncIterator[None]:
    """The relay lock taken by a session of the test (as another replica would hold it)."""
    async with engine.connect() as holder:
        lock = text("SELECT pg_try_advisory_lock(:key)")

        async def taken() -> bool:
            return bool((await holder.execute(lock, {"key": RELAY_LOCK_KEY})).scalar_one())

        await wait_for(taken, message="the cut session's lock is released")
        try:
            yield
        finally:  # a pooled session keeps its session locks: give it back without
            await holder.execute(text("SELECT pg_advisory_unlock_all()"))
            await holder.commit()


async def test_a_relay_whose_lock_session_is_cut_publishes_nothing_until_it_leads_again(
    pg_engine: AsyncEngine, js: JetStreamContext
) -> None:
    """The leader's lock session is terminated and the lock taken by another session
    at once: events committed meanwhile stay unpublished (the relay stepped down);
    once the lock is free the relay takes it on a new session and publishes them."""
    relay = Relay(js, pg_engine, batch_size=10)
    await relay.start()
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await append(pg_engine, event("a", 1))
        await wait_for(lambda: _count(js, 1), message="the first event is relayed")
        cut = await _cut_the_leader(pg_engine)
        async with _lock_held_elsewhere(pg_engine):
            await append(pg_engine, event("a", 2))
            await asyncio.sleep(UNLED_S)  # an absence: only a window can show it
            assert await _count(js, 1), "a relay without the lock published"
        await wait_for(lambda: _count(js, 2), message="the relay leads again and publishes")
        assert cut not in await _holders(pg_engine)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_second_relay_takes_over_from_a_leader_whose_session_was_cut(
    pg_engine: AsyncEngine, js: JetStreamContext
) -> None:
    """Two relays; the leader's session is cut while the lock is held elsewhere, then the
    leader is stopped and the lock freed: the second relay takes it and publishes
    every event once, in order; at no moment do two sessions hold the lock."""
    relays = [Relay(js, pg_engine, batch_size=10) for _ in range(2)]
    await relays[0].start()
    stops = [asyncio.Event(), asyncio.Event()]
    first = asyncio.create_task(relays[0].run(stops[0]))
    await wait_for(lambda: _holders(pg_engine), message="the first relay leads")
    tasks = [first]
    try:
        await append(pg_engine, event("a", 1))
        await wait_for(lambda: _count(js, 1), message="the first event is relayed")
        await _cut_the_leader(pg_engine)
        async with _lock_held_elsewhere(pg_engine):
            # Started once the test holds the lock: it cannot win the race for it.
            tasks.append(asyncio.create_task(relays[1].run(stops[1])))
            await append(pg_engine, event("a", 2))
            await asyncio.sleep(UNLED_S)
            assert await _count(js, 1), "a relay without the lock published"
            stops[0].set()
            await asyncio.wait_for(first, 10)  # it ends while waiting for the lock
        await wait_for(lambda: _count(js, 2), message="the second relay takes over")
        await append(pg_engine, event("a", 3))
        await wait_for(lambda: _count(js, 3), message="the second relay keeps relaying")
        assert len(await _holders(pg_engine)) == 1
    finally:
        for stop in stops:
            stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert [m["version"] for m in await published(js)] == [1, 2, 3]


async def test_each_event_read_ends_in_one_handled_line_once_the_checkpoint_moved(
    engine: AsyncEngine, js: JetStreamContext
) -> None:
    relay = Relay(js, engine, batch_size=10)
    await relay.start()
    connection_id, command_id = str(uuid.uuid4()), str(uuid.uuid4())
    caused = {"command_id": command_id, "correlation_id": "batch-9"}
    ours = dataclasses.replace(event(connection_id, 1), metadata=caused)
    noisy = dataclasses.replace(event(connection_id, 2), metadata={"correlation_id": "a\nb"})
    await append(engine, ours, noisy, event("x", 1, tenant=""))
    with captured_lines() as lines:
        assert await relay.relay_once() == 3
    handled = [line for line in lines if line["event"] == HANDLED]
    assert [(line["position"], line["outcome"]) for line in handled] == [
        (1, "published"),
        (2, "published"),
        (3, "kept"),
    ]
    first, second, kept = handled
    assert (
        first
        | {
            "tenant": "acme",
            "connection_id": connection_id,
            "event_type": "SecretsRotated",
            "command_id": command_id,
            "correlation_id": "batch-9",
        }
        == first
    )
    assert [m["event_id"] for m in await published(js)] == [first["event_id"], second["event_id"]]
    assert "correlation_id" not in second
    assert "tenant" not in kept
    assert all(line["duration_ms"] > 0 for line in handled)
