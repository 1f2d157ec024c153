"""The encryptor at the tenant boundary, on a real nats-server: broker headers, reply_to,
and command ids reused across tenants. Each refusal sits next to its positive control."""

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
from nats.aio.msg import Msg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.headers import EXPECTED_STREAM_HEADER
from connmgr.schemas.bus.inboxes import pool_inbox_prefix, tenant_inbox_prefix
from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.command_log import find_outcome
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.tables import connections, events, handled_commands
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from support.commands import command, postgres_payload, subject_of
from support.tenants import publish_as, request_as, tenant_client
from support.waiting import wait_for

A, B = "tenant-a", "tenant-b"


@dataclass
class Boundary:
    engine: AsyncEngine
    clients: dict[str, Client]
    seen: list[Msg] = field(default_factory=list)

    async def send(
        self, tenant: str, document: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        await publish_as(self.clients[tenant], tenant, document, headers)

    async def request(
        self, tenant: str, document: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return await request_as(self.clients[tenant], tenant, document, headers)

    async def outcome(self, tenant: str, command_id: str) -> CommandOutcome | None:
        async with self.engine.connect() as connection:
            return await find_outcome(connection, tenant, command_id)

    async def snapshot(self, tenant: str) -> list[Any]:
        """Every row of the tenant's: connection, events, handled commands."""
        async with self.engine.connect() as connection:
            rows: list[Any] = []
            for table in (connections, events, handled_commands):
                query = select(table).where(table.c.tenant == tenant)
                rows += [tuple(row) for row in await connection.execute(query)]
        return sorted(rows, key=repr)


@pytest.fixture
async def boundary(nats_server_factory, fresh_pg_url) -> AsyncIterator[Boundary]:  # type: ignore[no-untyped-def]
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    pool_nc = await nats.connect(server.url, inbox_prefix=pool_inbox_prefix("encryptor"))
    clients = {tenant: await tenant_client(server.url, tenant) for tenant in (A, B)}
    spy = await nats.connect(server.url)
    found = Boundary(engine, clients)

    async def record(message: Msg) -> None:
        found.seen.append(message)

    await spy.subscribe(">", cb=record)
    pool = EncryptorPool(pool_nc, engine, EncryptorPorts(Keyring.generate(), True), 32)
    await pool.start()
    stop = asyncio.Event()
    task = asyncio.create_task(pool.run(stop))
    yield found
    stop.set()
    await asyncio.wait_for(task, 30)
    for client in (spy, pool_nc, *clients.values()):
        await client.drain()
    await engine.dispose()


def create_of(tenant: str, **extra: Any) -> dict[str, Any]:
    payload = postgres_payload(name=f"db-{uuid.uuid4().hex}", auth={"method": "none"})
    return command("create", str(uuid.uuid4()), payload, tenant=tenant, **extra)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Nats-Schedule-Target", "connmgr.cmd.tenant-b.delete.victim"),
        ("NATS-Something-New", "connmgr.cmd.tenant-b.delete.victim"),
    ],
)
async def test_a_command_carrying_a_broker_header_is_refused_and_recorded(
    boundary: Boundary, header: str, value: str
) -> None:
    allowed = await boundary.request(A, create_of(A), {EXPECTED_STREAM_HEADER: "CONNMGR_CMD"})
    assert allowed["outcome"] == "accepted"  # positive control: the same command, no header

    document = create_of(A)
    reply = await boundary.request(A, document, {header: value})

    assert (reply["outcome"], reply["reason"]) == ("rejected", "control_headers")
    assert header.lower() in reply["message"]
    assert value not in reply["message"]
    recorded = await boundary.outcome(A, document["command_id"])
    assert recorded is not None
    assert recorded.reason == "control_headers"
    async with boundary.engine.connect() as connection:
        query = select(connections.c.id).where(connections.c.id == document["connection_id"])
        assert (await connection.execute(query)).first() is None


@pytest.mark.parametrize(
    "reply_to",
    [
        f"{tenant_inbox_prefix(B)}.stolen",
        f"{pool_inbox_prefix('encryptor')}.fetch",
        "_INBOX.plain",
        tenant_inbox_prefix(A),  # the prefix itself, not a subject under it
        f"{tenant_inbox_prefix(A)}x.below",  # a sibling that merely starts alike
    ],
)
async def test_a_reply_to_outside_the_tenants_inboxes_is_refused_with_no_reply_at_all(
    boundary: Boundary, reply_to: str
) -> None:
    document = create_of(A, reply_to=reply_to)
    await boundary.send(A, document)
    # Positive control, and the barrier: the pool answers in order, so once the next
    # command's reply arrived, any reply to the refused one would have been published.
    allowed = await boundary.request(A, create_of(A))
    assert allowed["outcome"] == "accepted"

    recorded = await wait_for(lambda: boundary.outcome(A, document["command_id"]))
    assert (recorded.outcome, recorded.reason) == ("rejected", "invalid_reply_to")
    assert [m.subject for m in boundary.seen if m.subject == reply_to] == []
    mentions = [m for m in boundary.seen if document["command_id"].encode() in m.data]
    assert {m.subject for m in mentions} == {subject_of(document, A)}  # the command alone
    assert not [m for m in mentions if b'"outcome"' in m.data]
    async with boundary.engine.connect() as connection:
        query = select(connections.c.id).where(connections.c.id == document["connection_id"])
        assert (await connection.execute(query)).first() is None


async def test_a_tenant_reusing_anothers_command_id_gets_its_own_handling(
    boundary: Boundary,
) -> None:
    victim = create_of(B)
    first = await boundary.request(B, victim)
    assert first["outcome"] == "accepted"
    before = await boundary.snapshot(B)

    replay = {**create_of(A), "command_id": victim["command_id"]}  # fresh Nats-Msg-Id
    answer = await boundary.request(A, replay)

    assert answer["outcome"] == "accepted"
    assert answer["connection_id"] == replay["connection_id"] != victim["connection_id"]
    assert answer["version"] == 1
    assert await boundary.snapshot(B) == before
    again = await boundary.request(A, replay)  # and a's own re-publish is a's duplicate
    assert again == answer


async def test_two_tenants_rejections_of_one_command_id_both_are_recorded(
    boundary: Boundary,
) -> None:
    command_id = str(uuid.uuid4())
    for tenant in (B, A):
        bad = {**create_of(tenant), "command_id": command_id}
        bad["payload"]["config"]["port"] = 0
        reply = await boundary.request(tenant, bad)
        assert (reply["outcome"], reply["reason"]) == ("rejected", "invalid_config")
    async with boundary.engine.connect() as connection:
        query = select(events.c.stream_id, events.c.tenant).where(
            events.c.type == "CommandRejected"
        )
        rejected = (await connection.execute(query)).all()
    assert sorted(tenant for _, tenant in rejected) == [A, B]
    assert len({stream for stream, _ in rejected}) == 2


async def test_a_create_of_an_id_taken_elsewhere_is_answered_as_one_taken_here(
    boundary: Boundary,
) -> None:
    taken = create_of(A)
    assert (await boundary.request(A, taken))["outcome"] == "accepted"
    deleted = create_of(A)
    assert (await boundary.request(A, deleted))["outcome"] == "accepted"
    gone = command("delete", deleted["connection_id"], {}, tenant=A)
    assert (await boundary.request(A, gone))["outcome"] == "accepted"

    answers = []
    for tenant, original in ((B, taken), (A, taken), (A, deleted)):
        again = {**create_of(tenant), "connection_id": original["connection_id"]}
        reply = await boundary.request(tenant, again)
        assert (reply["outcome"], reply["reason"]) == ("rejected", "id_unavailable")
        answers.append({k: v for k, v in reply.items() if k not in ("command_id", "connection_id")})
    assert answers[0] == answers[1] == answers[2]
    assert A not in json.dumps(answers[0])
