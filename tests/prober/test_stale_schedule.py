"""Schedules that must go or must stay: a firing for a connection deleted after its
target was cached is not checked and purges its schedule; placing leaves a
matching schedule alone; keepers of several replicas placing one connection at
once publish its schedule once, and the one that stays is the projection's.

The schedule keeper is not running here, so only the prober can purge the
schedule; the firing is handed to ``ProberPool.handle_firing`` as the broker
would deliver it from ``CONNMGR_SCHED``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncEngine

from api.manual_clock import ManualClock
from connmgr.schemas.bus.consumers import PROBE_FIRINGS_CONSUMER
from connmgr.schemas.bus.headers import SCHEDULE_HEADER, SCHEDULER_HEADER
from connmgr.schemas.bus.streams import SCHEDULE_STREAM
from connmgr.schemas.bus.subjects import probe_subject, schedule_subject
from connmgr.schemas.kinds import Kind
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.projection import ConnectionState
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.encryptor.batch import EncryptorBatch
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.keyring import Keyring
from connmgr.workers.prober.placement import Placements
from connmgr.workers.prober.schedule_messages import StoredSchedule, schedule_body
from connmgr.workers.prober.schedules import ScheduleKeeper
from connmgr.workers.prober.service import ProberPool
from connmgr.workers.prober.targets import TargetLookup
from connmgr.workers.streams import ensure_streams
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
    durable = PROBE_FIRINGS_CONSUMER.durable
    reply = f"$JS.ACK.{SCHEDULE_STREAM}.{durable}.1.{sequence}.{sequence}.1700000000000000000.0"
    return Msg(
        nc,
        subject=probe_subject(TENANT, connection_id),
        reply=reply,
        data=body,
        headers={SCHEDULER_HEADER: schedule_subject(TENANT, connection_id)},
    )


async def schedules_of(nc: Client, connection_id: str) -> int:
    info = await nc.jetstream().stream_info(
        SCHEDULE_STREAM, subjects_filter=schedule_subject(TENANT, connection_id)
    )
    return sum((info.state.subjects or {}).values())


def counting_prober(nc: Client, encryptor: Encryptor) -> tuple[ProberPool, CountingCheck]:
    """A prober (not started) whose checks of postgres connections are only counted."""
    check = CountingCheck()
    runner = CheckRunner({Kind.POSTGRES: check}, 4, 2)
    return ProberPool(nc, encryptor.engine, encryptor.keyring, runner, max_in_flight=4), check


async def scheduled_connection(pool: ProberPool, encryptor: Encryptor) -> ConnectionState:
    """A new postgres connection (no auth), with its schedule put."""
    connection_id = str(uuid.uuid4())
    payload = postgres_payload(name=f"db-{connection_id}", auth={"method": "none"})
    created = await encryptor.one(command("create", connection_id, payload))
    assert created.outcome == "accepted", created
    state = await encryptor.state(connection_id)
    assert state is not None
    await pool.schedules.put(state)
    return state


async def test_a_deleted_connection_is_never_checked_and_loses_its_schedule(
    nc: Client, encryptor: Encryptor
) -> None:
    pool, check = counting_prober(nc, encryptor)
    try:
        state = await scheduled_connection(pool, encryptor)
        connection_id = state.id
        body = schedule_body(state)
        assert await pool.handle_firing(firing(nc, connection_id, body, 7))
        assert check.runs == 1  # its target is now cached
        deleted = await encryptor.one(command("delete", connection_id, {}))
        assert deleted.outcome == "accepted", deleted
        assert await schedules_of(nc, connection_id) == 1
        assert await pool.handle_firing(firing(nc, connection_id, body, 8))
        assert check.runs == 1
        assert await schedules_of(nc, connection_id) == 0
    finally:
        await pool.close()


async def test_a_lookup_that_wrongly_finds_no_connection_does_not_end_its_schedule(
    nc: Client, encryptor: Encryptor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hostile to the purge: the projection, not the lookup, decides that a schedule
    goes. A live connection answered "absent" (as a full target cache once did) is
    not checked that once, and keeps its schedule."""
    pool, check = counting_prober(nc, encryptor)
    try:
        state = await scheduled_connection(pool, encryptor)
        connection_id = state.id

        async def absent(tenant: str, connection_id: str) -> TargetLookup:
            return TargetLookup(None)

        monkeypatch.setattr(pool.targets, "get", absent)
        assert await pool.handle_firing(firing(nc, connection_id, schedule_body(state), 7))
        assert check.runs == 0
        assert await schedules_of(nc, connection_id) == 1
        assert not await pool.schedules.remove_unwanted(TENANT, connection_id)
        assert await pool.schedules.remove_unwanted("other-tenant", connection_id)
        assert await schedules_of(nc, connection_id) == 1  # another tenant's subject is not its
    finally:
        await pool.close()


async def test_placing_publishes_a_missing_schedule_and_leaves_a_matching_one(
    nc: Client, encryptor: Encryptor
) -> None:
    keeper = ScheduleKeeper(nc, encryptor.engine)
    payload = postgres_payload(auth={"method": "none"}, health_check={"enabled": True})
    on, off = str(uuid.uuid4()), str(uuid.uuid4())
    for connection_id in (on, off):
        named = {**payload, "name": f"db-{connection_id}"}  # names are unique per tenant
        created = await encryptor.one(command("create", connection_id, named))
        assert created.outcome == "accepted", created
    await encryptor.one(command("delete", off, {}))
    await keeper.place_due([on, off])
    assert (await schedules_of(nc, on), await schedules_of(nc, off)) == (1, 0)
    subject = schedule_subject(TENANT, on)
    before = (await nc.jetstream().get_last_msg(SCHEDULE_STREAM, subject)).seq
    await keeper.place_due([on])
    assert (await nc.jetstream().get_last_msg(SCHEDULE_STREAM, subject)).seq == before


async def stored_schedule(nc: Client, connection_id: str) -> tuple[int, str]:
    """The stored schedule's sequence and ``Nats-Schedule``."""
    stored = await nc.jetstream().get_last_msg(
        SCHEDULE_STREAM, schedule_subject(TENANT, connection_id)
    )
    return stored.seq or 0, (stored.headers or {}).get(SCHEDULE_HEADER, "")


async def last_sequence(nc: Client) -> int:
    return (await nc.jetstream().stream_info(SCHEDULE_STREAM)).state.last_seq


async def created(encryptor: Encryptor, interval_s: int = 10) -> ConnectionState:
    connection_id = str(uuid.uuid4())
    health_check = {"enabled": True, "interval_s": interval_s}
    payload = postgres_payload(
        name=f"db-{connection_id}", auth={"method": "none"}, health_check=health_check
    )
    outcome = await encryptor.one(command("create", connection_id, payload))
    assert outcome.outcome == "accepted", outcome
    state = await encryptor.state(connection_id)
    assert state is not None
    return state


async def test_a_put_over_a_schedule_it_did_not_read_is_refused(
    nc: Client, encryptor: Encryptor
) -> None:
    keeper = ScheduleKeeper(nc, encryptor.engine)
    state = await created(encryptor)
    assert await keeper.put(state, replacing=0)
    first = await stored_schedule(nc, state.id)
    assert not await keeper.put(state, replacing=0)  # one was put since "none stored"
    assert await stored_schedule(nc, state.id) == first
    assert await keeper.put(state, replacing=first[0])


async def test_a_put_resting_on_a_read_from_before_a_purge_is_refused(
    nc: Client, encryptor: Encryptor
) -> None:
    """A keeper that read the schedule before another purged it (the connection was
    deleted or its checks disabled) does not bring it back."""
    keeper = ScheduleKeeper(nc, encryptor.engine)
    state = await created(encryptor)
    assert await keeper.put(state, replacing=0)
    sequence, _ = await stored_schedule(nc, state.id)
    await keeper.remove(state.tenant, state.id)
    assert not await keeper.put(state, replacing=sequence)
    assert await schedules_of(nc, state.id) == 0


async def test_two_keepers_placing_the_same_connections_publish_each_schedule_once(
    nc: Client, encryptor: Encryptor
) -> None:
    states = [await created(encryptor) for _ in range(20)]
    keepers = [ScheduleKeeper(nc, encryptor.engine) for _ in range(2)]
    ids = [state.id for state in states]
    before = await last_sequence(nc)
    await asyncio.gather(*(keeper.place_due(ids) for keeper in keepers))
    assert await last_sequence(nc) - before == len(ids)
    assert all([(await stored_schedule(nc, cid))[1] == "@every 10s" for cid in ids])


class OvertakenKeeper(ScheduleKeeper):
    """Once, right after it reads a stored schedule, another replica's keeper puts
    ``overtaking`` over that one: two replicas placing one connection at once."""

    def __init__(self, nc: Client, engine: AsyncEngine, overtaking: ConnectionState) -> None:
        super().__init__(nc, engine)
        self.other = ScheduleKeeper(nc, engine)
        self.overtaking: ConnectionState | None = overtaking

    async def _stored_schedules(self, keys: list[tuple[str, str]]) -> list[StoredSchedule]:
        stored = await super()._stored_schedules(keys)
        overtaking, self.overtaking = self.overtaking, None
        if overtaking is not None:
            assert await self.other.put(overtaking, replacing=stored[0].sequence)
        return stored


@pytest.mark.parametrize(
    ("overtaking_interval_s", "published"),
    [(30, 1), (10, 2)],
    ids=["overtaken-by-the-same-schedule", "overtaken-by-an-older-state"],
)
async def test_a_keeper_overtaken_while_placing_leaves_the_schedule_the_projection_wants(
    nc: Client, encryptor: Encryptor, overtaking_interval_s: int, published: int
) -> None:
    """Its put is refused; placed again from fresh reads, it publishes nothing more when
    the other put what the projection wants, and replaces it when it was older."""
    state = await created(encryptor, interval_s=30)
    health_check = {**state.health_check, "interval_s": overtaking_interval_s}
    keeper = OvertakenKeeper(nc, encryptor.engine, replace(state, health_check=health_check))
    before = await last_sequence(nc)
    await keeper.place_due([state.id])
    assert (await stored_schedule(nc, state.id))[1] == "@every 30s"
    assert await last_sequence(nc) - before == published


class ReadCountingKeeper(ScheduleKeeper):
    """Counts the stored schedules it reads."""

    def __init__(self, nc: Client, engine: AsyncEngine) -> None:
        super().__init__(nc, engine)
        self.reads = 0

    async def _stored_schedules(self, keys: list[tuple[str, str]]) -> list[StoredSchedule]:
        self.reads += len(keys)
        return await super()._stored_schedules(keys)


async def test_a_schedule_reconcile_found_absent_is_put_without_reading_it_again(
    nc: Client, encryptor: Encryptor
) -> None:
    """A new fleet's first start: a put a connection, no second read."""
    states = [await created(encryptor) for _ in range(5)]
    ids = [state.id for state in states]
    keeper = ReadCountingKeeper(nc, encryptor.engine)
    clock = ManualClock()  # on a whole second: stepped by seconds, it meets each one
    keeper.placements = Placements(clock)
    await keeper.reconcile()
    reconciled = keeper.reads
    before = await last_sequence(nc)

    for _ in range(12):  # every second of the 10 s window, as the placements' loop
        clock.advance(1)
        await keeper.placements.hand(keeper.placements.take_due(), keeper.place_due)

    assert (reconciled, keeper.reads - reconciled) == (5, 0)
    assert await last_sequence(nc) - before == len(ids)
    assert all([(await stored_schedule(nc, cid))[1] == "@every 10s" for cid in ids])


@pytest.mark.parametrize(
    ("stored_interval_s", "published"),
    [(10, 1), (30, 2)],
    ids=["stored-as-wanted", "stored-older"],
)
async def test_a_schedule_put_since_reconcile_found_it_absent_is_read_and_placed_once(
    nc: Client, encryptor: Encryptor, stored_interval_s: int, published: int
) -> None:
    """Another replica placed it meanwhile: the put expecting none is refused, the
    keeper reads the one stored, and leaves it or replaces it as the projection wants."""
    state = await created(encryptor, interval_s=10)
    keeper = ReadCountingKeeper(nc, encryptor.engine)
    await keeper.reconcile()
    health_check = {**state.health_check, "interval_s": stored_interval_s}
    before = await last_sequence(nc)
    assert await ScheduleKeeper(nc, encryptor.engine).put(
        replace(state, health_check=health_check), replacing=0
    )

    await keeper.place_due([state.id], absent={state.id})

    assert keeper.reads == 2  # reconcile's, then the one after the refusal
    assert (await stored_schedule(nc, state.id))[1] == "@every 10s"
    assert await last_sequence(nc) - before == published


async def test_a_firing_whose_body_names_another_connection_is_not_checked(
    nc: Client, encryptor: Encryptor
) -> None:
    pool, check = counting_prober(nc, encryptor)
    try:
        ids = [str(uuid.uuid4()) for _ in range(2)]
        for connection_id in ids:
            payload = postgres_payload(name=f"db-{connection_id}", auth={"method": "none"})
            assert (await encryptor.one(command("create", connection_id, payload))).outcome == (
                "accepted"
            )
        state = await encryptor.state(ids[0])
        assert state is not None
        assert await pool.handle_firing(firing(nc, ids[0], schedule_body(state), 3))
        assert check.runs == 1  # positive control: its own firing is checked
        assert await pool.handle_firing(firing(nc, ids[1], schedule_body(state), 4))
        assert check.runs == 1
    finally:
        await pool.close()
