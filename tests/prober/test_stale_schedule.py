"""A firing for a connection deleted after its target was cached: not checked, schedule purged.

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
from connmgr.workers.prober.schedules import schedule_body
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
    nc: Client, fresh_pg_url: NewPostgresUrl
) -> None:
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    keyring = Keyring.generate()
    encryptor = Encryptor(engine, keyring, EncryptorBatch(engine, EncryptorPorts(keyring, True), 5))
    check = CountingCheck()
    pool = ProberPool(
        nc, engine, keyring, CheckRunner({Kind.POSTGRES: check}, 4, 2), max_in_flight=4
    )
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
        await engine.dispose()
