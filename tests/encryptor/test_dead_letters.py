"""A command that fails on every delivery ends as a rejection plus a dead letter, and
can be replayed; the commands behind it are unaffected."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.typing import EventDict

from connmgr.api.asyncapi import document_bytes
from connmgr.runtime.dlq import list_dead_letters, replay
from connmgr.schemas.bus.consumers import ENCRYPTOR_CONSUMER
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.streams import DEAD_LETTER_STREAM
from connmgr.storage.command_log import find_outcome
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.tables import connections
from connmgr.workers.encryptor import planner
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.handlers import handle as real_handle
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from connmgr.workers.message_context import HANDLED
from support.commands import TENANT, command, encode, postgres_payload, subject_of
from support.contract import Contract
from support.logging_capture import captured_lines
from support.waiting import wait_for

POISON = "poison-connection"
QUICK = dataclasses.replace(ENCRYPTOR_CONSUMER, durable="encryptor-quick", max_deliver=3)


@pytest.fixture
async def running(
    nats_server_factory, fresh_pg_url, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Client, AsyncEngine]]:  # type: ignore[no-untyped-def]
    async def flaky(command: Any, current: Any, ports: Any) -> Any:
        if getattr(command.payload, "name", None) == POISON:
            raise RuntimeError("a bug that fails this command every time")
        return await real_handle(command, current, ports)

    monkeypatch.setattr(planner, "handle", flaky)
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    nc = await nats.connect(server.url)
    pool = EncryptorPool(nc, engine, EncryptorPorts(Keyring.generate(), True), 16, spec=QUICK)
    await pool.start()
    stop = asyncio.Event()
    task = asyncio.create_task(pool.run(stop))
    yield nc, engine
    stop.set()
    await asyncio.wait_for(task, 30)
    await nc.drain()
    await engine.dispose()


async def publish(nc: Client, document: dict[str, Any]) -> None:
    headers = {MSG_ID_HEADER: document["command_id"]}
    await nc.jetstream().publish(subject_of(document), encode(document), headers=headers)


async def test_a_poison_command_is_set_aside_and_can_be_replayed(
    running: tuple[Client, AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    nc, engine = running
    poison = command(
        "create", str(uuid.uuid4()), postgres_payload(name=POISON, auth={"method": "none"})
    )
    good = command("create", str(uuid.uuid4()), postgres_payload(auth={"method": "none"}))
    await publish(nc, poison)
    await publish(nc, good)

    async def outcome_of(command_id: str) -> Any:
        async with engine.connect() as connection:
            return await find_outcome(connection, TENANT, command_id)

    assert (await wait_for(lambda: outcome_of(good["command_id"]))).outcome == "accepted"
    rejected = await wait_for(lambda: outcome_of(poison["command_id"]), timeout=30)
    assert rejected.reason == "max_deliveries"
    letters = await wait_for(lambda: list_dead_letters(nc), message="the dead letter is listed")
    (letter,) = [entry for entry in letters if entry.kind == "set-aside"]
    assert letter.command_id == poison["command_id"]
    assert letter.subject == subject_of(poison)
    contract = Contract(json.loads(document_bytes()))  # the published channel of each letter
    for entry in letters:
        stored = await nc.jetstream().get_msg(DEAD_LETTER_STREAM, entry.sequence)
        channel = contract.channel_of(stored.subject)
        contract.check(channel, stored.headers, stored.data or b"")
        assert channel.startswith("deadLetter")

    monkeypatch.setattr(planner, "handle", real_handle)  # the bug is fixed
    new_id = await replay(nc, letter.sequence)
    assert new_id is not None
    assert new_id != poison["command_id"]
    replayed = await wait_for(lambda: outcome_of(new_id), timeout=15)
    assert replayed.outcome == "accepted"
    async with engine.connect() as connection:
        names = (await connection.execute(select(connections.c.name))).scalars().all()
    assert sorted(names) == sorted([POISON, "orders-db"])


async def test_each_failure_of_a_poison_command_is_logged_in_its_context(
    running: tuple[Client, AsyncEngine],
) -> None:
    """``command_failed`` comes from inside the encryptor's batch: it still names the
    command, its connection, tenant and correlation id, and which delivery failed."""
    nc, _ = running
    poison = command(
        "create",
        str(uuid.uuid4()),
        postgres_payload(name=POISON, auth={"method": "none"}),
        correlation_id="ticket-31",
    )
    ids = {
        "tenant": TENANT,
        "command_id": poison["command_id"],
        "connection_id": poison["connection_id"],
        "correlation_id": "ticket-31",
        "durable": QUICK.durable,
    }
    with captured_lines() as lines:
        await publish(nc, poison)
        await wait_for(lambda: len(lines_of(lines, HANDLED)) == QUICK.max_deliver, timeout=30)
    failed = lines_of(lines, "command_failed")
    assert [line["delivery"] for line in failed] == [1, 2, 3]
    assert all(line | ids == line and line["exc_info"] is True for line in failed)
    handled = lines_of(lines, HANDLED)
    assert all(line | ids == line for line in handled)
    assert [(line["outcome"], line["log_level"]) for line in handled] == [
        ("retry", "warning"),
        ("retry", "warning"),
        ("rejected", "info"),
    ]
    assert handled[-1]["reason"] == "max_deliveries"


def lines_of(lines: list[EventDict], event: str) -> list[EventDict]:
    return [line for line in lines if line["event"] == event]
