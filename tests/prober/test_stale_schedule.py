"""Schedules that must go or must stay: a firing for a connection deleted after its
target was cached is not checked and purges its schedule; placing leaves a
matching schedule alone.

The schedule keeper is not running here, so only the prober can purge the
schedule; the firing is handed to ``ProberPool.handle`` as the broker would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from connmgr.schemas.bus import COMMAND_STREAM, SCHEDULER_HEADER, command_subject, schedule_subject
from connmgr.schemas.kinds import Kind
from connmgr.storage.database import create_engine, migrate
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome
from connmgr.workers.encryptor.batch import EncryptorBatch
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.keyring import Keyring
from connmgr.workers.prober.pool import ProberPool
from connmgr.workers.prober.schedules import ScheduleKeeper, schedule_body
from connmgr.workers.streams import ensure_streams
from connmgr.workers.tester.runner import CheckRunner
from support.commands import TENANT, command, postgres_payload
from support.encryptor import Encryptor
from support.fixture_types import NewPostgresUrl, StartNatsServer


class CountingCheck:
    def __init__(self) -> None:
        self.runs = 0

    async def run(self, target: CheckTarget) -> CheckResult:
        self.runs += 1
        return CheckResult(Outcome.OK, "ok", 1.0)


@pytest.fixture
async def nc(nats_server_factory: StartNatsServer) -> AsyncIterator[Client]:
    server = await nats_server_factory()
    client = await nats.connect(server.url)
    await ensure_streams(client.jetstream())
    yield client
    await client.drain()


@pytest.fixture
async def encryptor(fresh_pg_url: NewPostgresUrl) -> AsyncIterator[Encryptor]:
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    keyring = Keyring.generate()
    yield Encryptor(engine, keyring, EncryptorBatch(engine, EncryptorPorts(keyring, True), 5))
    await engine.dispose()


def firing(nc: Client, connection_id: str, body: bytes, sequence: int) -> Msg:
    reply = f"$JS.ACK.{COMMAND_STREAM}.prober.1.{sequence}.{sequence}.1700000000000000000.0"
    return Msg(
        nc,
        subject=command_subject(TENANT, "check", connection_id),
        reply=reply,
        data=body,
        headers={SCHEDULER_HEADER: schedule_subject(TENANT, connection_id)},
    )


async def schedules_of(nc: Client, connection_id: str) -> int:
    info = await nc.jetstream().stream_info(
        COMMAND_STREAM, subjects_filter=schedule_subject(TENANT, connection_id)
    )
    return sum((info.state.subjects or {}).values())


async def test_a_deleted_connection_is_never_checked_and_loses_its_schedule(
    nc: Client, encryptor: Encryptor
) -> None:
    check = CountingCheck()
    runner = CheckRunner({Kind.POSTGRES: check}, 4, 2)
    pool = ProberPool(nc, encryptor.engine, encryptor.keyring, runner, max_in_flight=4)
    try:
        connection_id = str(uuid.uuid4())
        created = await encryptor.one(
            command("create", connection_id, postgres_payload(auth={"method": "none"}))
        )
        assert created.outcome == "accepted", created
        state = await encryptor.state(connection_id)
        assert state is not None
        await pool.schedules.put(state)
        body = schedule_body(state)
        assert await pool.handle(firing(nc, connection_id, body, 7))
        assert check.runs == 1  # its target is now cached
        deleted = await encryptor.one(command("delete", connection_id, {}))
        assert deleted.outcome == "accepted", deleted
        assert await schedules_of(nc, connection_id) == 1
        assert await pool.handle(firing(nc, connection_id, body, 8))
        assert check.runs == 1
        assert await schedules_of(nc, connection_id) == 0
    finally:
        await pool.close()


async def test_placing_publishes_a_missing_schedule_and_leaves_a_matching_one(
    nc: Client, encryptor: Encryptor
) -> None:
    keeper = ScheduleKeeper(nc, encryptor.engine)
    payload = postgres_payload(auth={"method": "none"}, health_check={"enabled": True})
    on, off = str(uuid.uuid4()), str(uuid.uuid4())
    for connection_id in (on, off):
        created = await encryptor.one(command("create", connection_id, payload))
        assert created.outcome == "accepted", created
    await encryptor.one(command("delete", off, {}))
    await keeper.place_due([on, off])
    assert (await schedules_of(nc, on), await schedules_of(nc, off)) == (1, 0)
    subject = schedule_subject(TENANT, on)
    before = (await nc.jetstream().get_last_msg(COMMAND_STREAM, subject)).seq
    await keeper.place_due([on])
    assert (await nc.jetstream().get_last_msg(COMMAND_STREAM, subject)).seq == before
