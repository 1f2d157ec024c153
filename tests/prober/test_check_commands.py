"""Check commands end in exactly one outcome, recorded and answered: a result, or a
rejection — ``not_found`` alike for a missing and for another tenant's connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.headers import TRACEPARENT_HEADER
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.command_log import find_outcome
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.tables import events, samples
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.checks.tcp import TcpCheck
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from connmgr.workers.prober.service import ProberPool
from support.commands import command
from support.tenants import request_as, tenant_client

A, B = "tenant-a", "tenant-b"


@dataclass
class Checks:
    engine: AsyncEngine
    clients: dict[str, Client]
    port: int

    async def request(
        self, tenant: str, document: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return await request_as(self.clients[tenant], tenant, document, headers)

    async def create(self, tenant: str) -> str:
        connection_id = str(uuid.uuid4())
        payload = {"name": "svc", "kind": "tcp", "config": {"host": "127.0.0.1", "port": self.port}}
        reply = await self.request(tenant, command("create", connection_id, payload, tenant=tenant))
        assert reply["outcome"] == "accepted", reply
        return connection_id

    async def recorded(self, tenant: str, command_id: str) -> CommandOutcome | None:
        async with self.engine.connect() as connection:
            return await find_outcome(connection, tenant, command_id)

    async def samples_of(self, connection_id: str) -> int:
        query = select(func.count()).where(samples.c.connection_id == connection_id)
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())


@pytest.fixture
async def checks(nats_server_factory, fresh_pg_url) -> AsyncIterator[Checks]:  # type: ignore[no-untyped-def]
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    pool_nc = await nats.connect(server.url)
    clients = {tenant: await tenant_client(server.url, tenant) for tenant in (A, B)}
    keyring = Keyring.generate()
    runner = CheckRunner({Kind.TCP: TcpCheck(Egress(EgressPolicy(allow_loopback=True)))}, 8, 4)
    pools = [
        EncryptorPool(pool_nc, engine, EncryptorPorts(keyring, True), batch_size=32),
        ProberPool(pool_nc, engine, keyring, runner, max_in_flight=8),
    ]
    stop = asyncio.Event()
    tasks = []
    for pool in pools:
        await pool.start()
        tasks.append(asyncio.create_task(pool.run(stop)))
    yield Checks(engine, clients, listener.sockets[0].getsockname()[1])
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    listener.close()
    for client in (pool_nc, *clients.values()):
        await client.drain()
    await engine.dispose()


def without_ids(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k not in ("command_id", "connection_id")}


async def test_a_check_of_a_missing_or_foreign_connection_is_the_same_not_found(
    checks: Checks,
) -> None:
    mine, theirs = await checks.create(A), await checks.create(B)
    own = await checks.request(A, command("check", mine, {}, tenant=A))
    assert (own["outcome"], own["result"]["outcome"]) == ("accepted", "ok")  # positive control

    foreign = command("check", theirs, {}, tenant=A)
    missing = command("check", str(uuid.uuid4()), {}, tenant=A)
    foreign_reply = await checks.request(A, foreign)
    missing_reply = await checks.request(A, missing)

    assert (foreign_reply["outcome"], foreign_reply["reason"]) == ("rejected", "not_found")
    assert without_ids(foreign_reply) == without_ids(missing_reply)
    for document in (foreign, missing):
        recorded = await checks.recorded(A, document["command_id"])
        assert recorded is not None
        assert recorded.reason == "not_found"
    assert await checks.samples_of(theirs) == 0


async def test_a_rejected_checks_event_keeps_the_senders_trace(checks: Checks) -> None:
    # No tracer provider here: the valid traceparent passes through unchanged.
    sender = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    traced = command("check", str(uuid.uuid4()), {}, tenant=A)
    untraced = command("check", str(uuid.uuid4()), {}, tenant=A)
    await checks.request(A, traced, {TRACEPARENT_HEADER: sender})
    await checks.request(A, untraced)
    query = select(events.c.data, events.c.metadata).where(events.c.type == "CommandRejected")
    async with checks.engine.connect() as connection:
        rejected = {row.data["command_id"]: row.metadata for row in await connection.execute(query)}
    assert rejected[traced["command_id"]]["traceparent"] == sender
    assert "traceparent" not in rejected[untraced["command_id"]]


@pytest.mark.parametrize(
    ("mutate", "headers", "reason"),
    [
        (lambda d: d.update(surprise=True), {}, "invalid_command"),
        (lambda d: d.update(payload={"draft": True}), {}, "invalid_command"),
        (lambda d: None, {"Nats-Schedule-Target": "connmgr.cmd.x.check.y"}, "control_headers"),
    ],
    ids=["unknown-field", "draft-check", "broker-header"],
)
async def test_a_check_rejected_before_checking_is_answered_and_recorded(
    checks: Checks, mutate: Any, headers: dict[str, str], reason: str
) -> None:
    connection_id = await checks.create(A)
    document = command("check", connection_id, {}, tenant=A)
    mutate(document)
    reply = await checks.request(A, document, headers)
    assert (reply["outcome"], reply["reason"]) == ("rejected", reason)
    recorded = await checks.recorded(A, document["command_id"])
    assert recorded is not None
    assert recorded.reason == reason
    assert await checks.samples_of(connection_id) == 0


async def test_a_check_reusing_another_tenants_command_id_is_checked_as_its_own(
    checks: Checks,
) -> None:
    mine, theirs = await checks.create(A), await checks.create(B)
    victim = command("check", theirs, {}, tenant=B)
    first = await checks.request(B, victim)
    assert first["outcome"] == "accepted"
    before = await checks.recorded(B, victim["command_id"])

    replay = command("check", mine, {}, tenant=A, command_id=victim["command_id"])
    answer = await checks.request(A, replay)

    assert (answer["outcome"], answer["connection_id"]) == ("accepted", mine)
    assert await checks.samples_of(mine) == 1
    assert await checks.samples_of(theirs) == 1
    assert await checks.recorded(B, victim["command_id"]) == before
    again = await checks.request(A, replay)  # a's own re-publish is answered from its record
    assert again == answer
    assert await checks.samples_of(mine) == 1
