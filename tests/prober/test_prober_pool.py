"""The prober pool against a real nats-server and PostgreSQL: schedules, alerts, samples."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from structlog.typing import EventDict

from connmgr.schemas.bus.consumers import PROBE_FIRINGS_CONSUMER, PROBER_CONSUMER
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.bus.streams import SCHEDULE_STREAM
from connmgr.schemas.bus.subjects import probe_subject, schedule_subject
from connmgr.schemas.kinds import Kind
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.probe_states import read_probe_state
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import load_connection, load_page
from connmgr.storage.tables import events, samples
from connmgr.workers.checks.base import CheckResult, Outcome
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.checks.tcp import TcpCheck
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from connmgr.workers.message_context import HANDLED
from connmgr.workers.prober import schedule_messages
from connmgr.workers.prober import schedules as schedules_module
from connmgr.workers.prober.recorder import CheckRecord, record_checks
from connmgr.workers.prober.schedule_messages import schedule_body
from connmgr.workers.prober.schedules import ScheduleKeeper
from connmgr.workers.prober.service import ProberPool
from connmgr.workers.relay.service import Relay
from support.commands import TENANT, command, encode, subject_of
from support.logging_capture import captured_lines
from support.waiting import wait_for


@dataclass
class Stack:
    nc: Client
    engine: AsyncEngine
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def request(self, document: dict[str, Any]) -> dict[str, Any]:
        inbox = self.nc.new_inbox()
        subscription = await self.nc.subscribe(inbox)
        body = encode({**document, "reply_to": inbox})
        headers = {MSG_ID_HEADER: document["command_id"]}
        await self.nc.jetstream().publish(subject_of(document), body, headers=headers)
        reply = await subscription.next_msg(timeout=30)
        await subscription.unsubscribe()
        return json.loads(reply.data)

    async def count(self, query: Any) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def event_types(self, connection_id: str) -> list[str]:
        async with self.engine.connect() as connection:
            query = (
                select(events.c.type)
                .where(events.c.stream_id == connection_id)
                .order_by(events.c.position)
            )
            return list((await connection.execute(query)).scalars())


@pytest.fixture
async def stack(nats_server_factory, fresh_pg_url) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    nc = await nats.connect(server.url, inbox_prefix=tenant_inbox_prefix(TENANT))
    keyring = Keyring.generate()
    stack = Stack(nc=nc, engine=engine)
    runner = CheckRunner({Kind.TCP: TcpCheck(Egress(EgressPolicy(allow_loopback=True)))}, 16, 4)
    pools = [
        EncryptorPool(nc, engine, EncryptorPorts(keyring, True), batch_size=32),
        Relay(nc.jetstream(), engine, batch_size=100),
        ProberPool(nc, engine, keyring, runner, max_in_flight=32),
    ]
    for pool in pools:
        await pool.start()
        stack.tasks.append(asyncio.create_task(pool.run(stack.stop)))
    yield stack
    stack.stop.set()
    await asyncio.wait_for(asyncio.gather(*stack.tasks), 30)
    await nc.drain()
    await engine.dispose()


def tcp(port: int, **health: Any) -> dict[str, Any]:
    return {
        "name": f"svc-{uuid.uuid4().hex[:12]}",  # names are unique per tenant
        "kind": "tcp",
        "config": {"host": "127.0.0.1", "port": port},
        "health_check": {"failure_threshold": 2, "recovery_threshold": 1, **health},
    }


async def create(stack: Stack, payload: dict[str, Any]) -> str:
    connection_id = str(uuid.uuid4())
    reply = await stack.request(command("create", connection_id, payload))
    assert reply["outcome"] == "accepted", reply
    return connection_id


async def stored_state(stack: Stack, connection_id: str) -> ConnectionState:
    async with stack.engine.connect() as connection:
        state = await load_connection(connection, connection_id)
    assert state is not None
    return state


async def schedule_count(stack: Stack, tenant: str, connection_id: str) -> int:
    info = await stack.nc.jetstream().stream_info(
        SCHEDULE_STREAM, subjects_filter=schedule_subject(tenant, connection_id)
    )
    return sum((info.state.subjects or {}).values())


async def test_a_target_that_goes_down_raises_one_alert_and_resolves_once(stack: Stack) -> None:
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    connection_id = await create(stack, tcp(port))
    check = lambda: stack.request(command("check", connection_id, {}))  # noqa: E731
    assert (await check())["result"]["outcome"] == "ok"
    listener.close()
    await listener.wait_closed()
    outcomes = [(await check())["result"]["outcome"] for _ in range(4)]
    assert set(outcomes) == {"unreachable"}
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
    try:
        assert (await check())["result"]["outcome"] == "ok"
        assert (await check())["result"]["outcome"] == "ok"
    finally:
        listener.close()
    types = await stack.event_types(connection_id)
    assert types.count("AlertRaised") == 1
    assert types.count("AlertResolved") == 1
    assert types.index("AlertRaised") < types.index("AlertResolved")
    assert await stack.count(select(func.count()).select_from(samples)) == 7


async def test_the_schedule_fires_and_stops_on_delete(stack: Stack) -> None:
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        connection_id = await create(stack, tcp(port, enabled=True, interval_s=10))
        await wait_for(lambda: schedule_count(stack, "acme", connection_id), timeout=15)
        count = (
            select(func.count())
            .select_from(samples)
            .where(samples.c.connection_id == connection_id)
        )
        await wait_for(lambda: stack.count(count), timeout=25, message="a scheduled check ran")
        assert (await stack.request(command("delete", connection_id, {})))["outcome"] == "accepted"
        await wait_for(
            lambda: _is_zero(schedule_count(stack, "acme", connection_id)),
            timeout=15,
            message="the schedule is purged",
        )
    finally:
        listener.close()


async def _is_zero(value: Any) -> bool:
    return await value == 0


async def test_a_redelivered_firing_counts_once(stack: Stack) -> None:
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    connection_id = await create(stack, tcp(listener.sockets[0].getsockname()[1]))
    listener.close()
    record = CheckRecord(
        check_id="scheduled:42",
        connection_id=connection_id,
        tenant="acme",
        checked_at=datetime.now(UTC),
        result=CheckResult(Outcome.OK, "ok", 1.0),
    )
    first = await record_checks(stack.engine, [record])
    again = await record_checks(stack.engine, [record])
    assert (first[0].counted, again[0].counted) == (True, False)
    assert await stack.count(select(func.count()).select_from(samples)) == 1
    assert (await stack.event_types(connection_id)).count("HealthStatusChanged") == 1


async def test_auth_failures_suspend_probing_until_the_connection_changes(stack: Stack) -> None:
    connection_id = await create(stack, tcp(9, auth_failure_limit=2))
    for n in range(2):
        failure = CheckRecord(
            check_id=f"scheduled:{n}",
            connection_id=connection_id,
            tenant="acme",
            checked_at=datetime.now(UTC),
            result=CheckResult(Outcome.AUTH_FAILED, "the credentials were refused", 1.0),
        )
        await record_checks(stack.engine, [failure])
    assert "ProbeSuspended" in await stack.event_types(connection_id)
    assert await _suspended(stack, connection_id)
    update = command("update", connection_id, {"description": "new password coming"})
    assert (await stack.request(update))["outcome"] == "accepted"
    await wait_for(
        lambda: _resumed(stack, connection_id), message="the update resumes probing", timeout=15
    )


async def _suspended(stack: Stack, connection_id: str) -> bool:
    async with stack.engine.connect() as connection:
        row = await read_probe_state(connection, connection_id)
    return row is not None and bool(row["suspended"])


async def _resumed(stack: Stack, connection_id: str) -> bool:
    return not await _suspended(stack, connection_id)


async def test_an_alert_is_suppressed_while_a_dependency_is_down(stack: Stack) -> None:
    database = await create(stack, tcp(9))
    app = await create(stack, tcp(9, depends_on=[database]))

    async def fail(connection_id: str, n: int) -> None:
        record = CheckRecord(
            check_id=f"scheduled:{connection_id}:{n}",
            connection_id=connection_id,
            tenant="acme",
            checked_at=datetime.now(UTC),
            result=CheckResult(Outcome.UNREACHABLE, "the connection was refused", 1.0),
        )
        await record_checks(stack.engine, [record])

    for n in range(3):
        await fail(database, n)
    assert (await stack.event_types(database)).count("AlertRaised") == 1
    for n in range(3):
        await fail(app, n)
    app_events = await stack.event_types(app)
    assert "HealthStatusChanged" in app_events
    assert "AlertRaised" not in app_events


async def test_reconciling_leaves_a_matching_schedule_alone(stack: Stack) -> None:
    # 10 s: placed within 10 s (placement.MAX_SPREAD_S spreads longer intervals wider).
    connection_id = await create(stack, tcp(9, enabled=True, interval_s=10))
    await wait_for(lambda: schedule_count(stack, "acme", connection_id), timeout=15)
    subject = schedule_subject("acme", connection_id)
    js = stack.nc.jetstream()
    before = (await js.get_last_msg(SCHEDULE_STREAM, subject)).seq
    keeper = ScheduleKeeper(stack.nc, stack.engine)
    assert await keeper.reconcile() == 1
    assert (await js.get_last_msg(SCHEDULE_STREAM, subject)).seq == before


async def test_reconciling_reads_the_projection_a_page_at_a_time(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its memory must not grow with the fleet: every connection is seen once, in
    pages of at most ``RECONCILE_PAGE``, and each one that wants a schedule counts."""
    enabled = [await create(stack, tcp(9, enabled=True, interval_s=10)) for _ in range(3)]
    disabled = [await create(stack, tcp(9, enabled=False)) for _ in range(2)]
    pages: list[list[str]] = []

    async def recorded(connection: AsyncConnection, after_id: str, size: int) -> Any:
        page = await load_page(connection, after_id, size)
        pages.append([state.id for state in page])
        return page

    monkeypatch.setattr(schedules_module, "RECONCILE_PAGE", 2)
    monkeypatch.setattr(schedules_module, "load_page", recorded)
    assert await ScheduleKeeper(stack.nc, stack.engine).reconcile() == len(enabled)
    assert [len(page) for page in pages] == [2, 2, 1, 0]  # the empty page ends the walk
    seen = [connection_id for page in pages for connection_id in page]
    assert seen == sorted(enabled + disabled)


async def test_reconciling_reads_a_pages_schedules_a_bounded_number_at_a_time(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One read after another made a start at 100,000 connections take 20 s before its
    replica took a check; all at once would flood the broker. The reads overlap, at
    most ``PLACING_AT_ONCE`` of them, and each connection's own schedule decides."""
    enabled = [await create(stack, tcp(9, enabled=True, interval_s=10)) for _ in range(5)]
    await create(stack, tcp(9, enabled=False))
    keeper = ScheduleKeeper(stack.nc, stack.engine)
    placed = await stored_state(stack, enabled[0])
    assert await keeper.put(placed)  # already right: left alone
    real_read = schedule_messages.read_stored_schedule
    reading, most = 0, 0
    # The pool's own keeper may still be placing the new connections, with reads of its
    # own: only the reads of this reconcile (its tasks inherit the context) count.
    this_reconcile: ContextVar[bool] = ContextVar("this_reconcile", default=False)

    async def overlapping(js: JetStreamContext, tenant: str, connection_id: str) -> Any:
        nonlocal reading, most
        if not this_reconcile.get():
            return await real_read(js, tenant, connection_id)
        reading += 1
        most = max(most, reading)
        await asyncio.sleep(0)  # let every read that may start now start: no timing involved
        try:
            return await real_read(js, tenant, connection_id)
        finally:
            reading -= 1

    monkeypatch.setattr(schedules_module, "PLACING_AT_ONCE", 3)
    monkeypatch.setattr(schedule_messages, "read_stored_schedule", overlapping)
    this_reconcile.set(True)
    assert await keeper.reconcile() == len(enabled)
    assert most == 3
    assert [cid in keeper.placements for cid in enabled] == [False, True, True, True, True]


async def test_each_check_and_each_firing_ends_in_one_handled_line(stack: Stack) -> None:
    """Manual checks and scheduled firings alike: one ``message_handled`` line with
    the outcome, the subject's tenant and connection, and the duration."""
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    try:
        connection_id = await create(stack, tcp(listener.sockets[0].getsockname()[1]))
        state = await stored_state(stack, connection_id)
        missing = str(uuid.uuid4())
        manual = command("check", connection_id, {}, correlation_id="canary-3")
        js = stack.nc.jetstream()
        with captured_lines() as lines:
            assert (await stack.request(manual))["result"]["outcome"] == "ok"
            for subject, body in (
                (probe_subject(TENANT, connection_id), schedule_body(state)),
                (probe_subject(TENANT, missing), encode(command("check", missing, {}))),
                (probe_subject(TENANT, missing), schedule_body(state)),  # not its subject's
            ):
                await js.publish(subject, body, stream=SCHEDULE_STREAM)
            await wait_for(lambda: len(_handled(lines, PROBE_FIRINGS_CONSUMER.durable)) == 3)
    finally:
        listener.close()
    (command_line,) = _handled(lines, PROBER_CONSUMER.durable)
    assert (
        command_line
        | {
            "tenant": TENANT,
            "connection_id": connection_id,
            "command_id": manual["command_id"],
            "correlation_id": "canary-3",
            "outcome": "accepted",
            "result": "ok",
        }
        == command_line
    )
    firings = {line["outcome"]: line for line in _handled(lines, PROBE_FIRINGS_CONSUMER.durable)}
    checked, skipped, discarded = firings["checked"], firings["skipped"], firings["discarded"]
    assert (
        checked
        | {
            "tenant": TENANT,
            "connection_id": connection_id,
            "outcome": "checked",
            "result": "ok",
            "counted": True,
        }
        == checked
    )
    assert (skipped["connection_id"], skipped["outcome"], skipped["reason"]) == (
        missing,
        "skipped",
        "no_connection",
    )
    assert (discarded["connection_id"], discarded["outcome"], discarded["log_level"]) == (
        missing,
        "discarded",
        "warning",
    )
    for line in (command_line, checked, skipped, discarded):
        assert line["duration_ms"] > 0


def _handled(lines: list[EventDict], durable: str) -> list[EventDict]:
    return [x for x in lines if x["event"] == HANDLED and x.get("durable") == durable]
