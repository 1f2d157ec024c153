"""The tester pool against a real nats-server and PostgreSQL, testing local targets."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import nats
import pytest
from aiohttp import web
from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.kinds import Kind
from connmgr.storage.command_log import find_outcome
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.projection_store import load_connection
from connmgr.storage.tables import connections, events
from connmgr.workers.checks.http import HttpCheck
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.checks.tcp import TcpCheck
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from connmgr.workers.message_context import HANDLED
from connmgr.workers.tester import service as tester_service
from connmgr.workers.tester.recorder import TestRecord, record_tests
from connmgr.workers.tester.service import TesterPool
from support.commands import TENANT, command, encode, sealed, subject_of
from support.haystacks import database_text, message_text
from support.leaks import LeakChannels
from support.logging_capture import captured_lines
from support.secret_scan import SecretScanner
from support.waiting import wait_for

TOKEN = "bearer-Token-Never-Leaks-77"
WRONG_TOKEN = "bearer-Wrong-Token-5c2e9a"


@dataclass
class Stack:
    nc: Client
    engine: AsyncEngine
    keyring: Keyring
    wire: list[bytes] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def request(
        self,
        document: dict[str, Any],
        msg_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        inbox = self.nc.new_inbox()
        subscription = await self.nc.subscribe(inbox)
        headers = {MSG_ID_HEADER: msg_id or document["command_id"], **(headers or {})}
        body = encode({**document, "reply_to": inbox})
        await self.nc.jetstream().publish(subject_of(document), body, headers=headers)
        reply = await subscription.next_msg(timeout=30)
        await subscription.unsubscribe()
        return json.loads(reply.data)

    async def events_of(self, event_type: str) -> list[Any]:
        async with self.engine.connect() as connection:
            query = select(events).where(events.c.type == event_type).order_by(events.c.position)
            return list((await connection.execute(query)).all())


@pytest.fixture
async def stack(nats_server_factory, fresh_pg_url) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    nc = await nats.connect(server.url, inbox_prefix=tenant_inbox_prefix(TENANT))
    spy = await nats.connect(server.url)
    stack = Stack(nc=nc, engine=engine, keyring=Keyring.generate())

    async def record(message: Any) -> None:
        stack.wire.append(message_text(message).encode())

    await spy.subscribe(">", cb=record)
    egress = Egress(EgressPolicy(allow_loopback=True))
    checks = {Kind.TCP: TcpCheck(egress), Kind.HTTP: HttpCheck(egress)}
    runner = CheckRunner(checks, concurrency=16, per_target=2)
    encryptor = EncryptorPool(nc, engine, EncryptorPorts(stack.keyring, True), batch_size=32)
    tester = TesterPool(nc, engine, stack.keyring, runner, allow_plaintext=True, max_in_flight=32)
    for pool in (encryptor, tester):
        await pool.start()
        stack.tasks.append(asyncio.create_task(pool.run(stack.stop)))
    yield stack
    stack.stop.set()
    await asyncio.wait_for(asyncio.gather(*stack.tasks), 30)
    await spy.drain()
    await nc.drain()
    await engine.dispose()


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@dataclass
class CountingListener:
    port: int = 0
    accepted: int = 0


@pytest.fixture
async def counting_listener() -> AsyncIterator[CountingListener]:
    counted = CountingListener()

    def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counted.accepted += 1
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    counted.port = server.sockets[0].getsockname()[1]
    yield counted
    server.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tcp_payload(port: int, **extra: Any) -> dict[str, Any]:
    config = {"host": "127.0.0.1", "port": port}
    return {
        "name": f"svc-{uuid.uuid4().hex[:12]}",
        "kind": "tcp",
        "config": config,
        **extra,
    }  # unique names


async def create(stack: Stack, payload: dict[str, Any]) -> str:
    connection_id = str(uuid.uuid4())
    reply = await stack.request(command("create", connection_id, payload))
    assert reply["outcome"] == "accepted", reply
    return connection_id


async def test_a_test_records_its_result_and_the_projection_keeps_it(
    stack: Stack, listener: int
) -> None:
    connection_id = await create(stack, tcp_payload(listener))
    reply = await stack.request(command("test", connection_id, {}))
    assert (reply["outcome"], reply["version"], reply["result"]["outcome"]) == ("accepted", 2, "ok")
    assert "connect" in reply["result"]["phases"]
    async with stack.engine.connect() as connection:
        state = await load_connection(connection, connection_id)
    assert state is not None
    assert state.last_test is not None
    assert state.last_test["outcome"] == "ok"


async def test_a_closed_port_is_unreachable(stack: Stack) -> None:
    connection_id = await create(stack, tcp_payload(closed_port()))
    reply = await stack.request(command("test", connection_id, {}))
    assert reply["result"]["outcome"] == "unreachable"


async def test_a_republished_test_is_answered_from_its_record_without_a_second_check(
    stack: Stack, counting_listener: CountingListener
) -> None:
    connection_id = await create(stack, tcp_payload(counting_listener.port))
    document = command("test", connection_id, {})
    first = await stack.request(document)
    second = await stack.request(document, msg_id=str(uuid.uuid4()))
    assert first == second
    assert len(await stack.events_of("ConnectionTested")) == 1
    assert counting_listener.accepted == 1


async def test_a_result_the_database_refused_is_written_on_redelivery_without_a_second_check(
    stack: Stack, counting_listener: CountingListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection_id = await create(stack, tcp_payload(counting_listener.port))
    refused: list[int] = []

    async def refuse_once(engine: AsyncEngine, records: list[TestRecord]) -> Any:
        if not refused:
            refused.append(len(records))
            return [None] * len(records)  # as record_tests says of records it could not write
        return await record_tests(engine, records)

    monkeypatch.setattr(tester_service, "record_tests", refuse_once)
    reply = await stack.request(command("test", connection_id, {}))

    assert refused == [1]
    assert (reply["outcome"], reply["result"]["outcome"]) == ("accepted", "ok")
    assert len(await stack.events_of("ConnectionTested")) == 1
    assert counting_listener.accepted == 1


async def test_a_draft_is_tested_and_never_stored(
    stack: Stack, leak_channels: LeakChannels
) -> None:
    app = web.Application()

    async def guarded(request: web.Request) -> web.Response:
        ok = request.headers.get("Authorization") == f"Bearer {TOKEN}"
        return web.json_response({"ok": ok}, status=200 if ok else 401)

    app.router.add_get("/ping", guarded)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        draft_id = str(uuid.uuid4())
        payload = {
            "draft": True,
            "name": "api",
            "kind": "http",
            "config": {"base_url": f"http://127.0.0.1:{port}", "test": {"path": "/ping"}},
            "auth": {"method": "bearer"},
            "secrets": sealed({"token": TOKEN}, stack.keyring.seal_public_info(), draft_id),
        }
        reply = await stack.request(command("test", draft_id, payload))
        wrong = {**payload, "secrets": {"plaintext": {"token": WRONG_TOKEN}}}
        refused = await stack.request(command("test", draft_id, wrong))
    finally:
        await runner.cleanup()
    assert (reply["outcome"], reply["result"]["outcome"]) == ("accepted", "ok")
    assert refused["result"]["outcome"] == "auth_failed"
    (tested, _) = await stack.events_of("ConnectionTested")
    assert tested.data["draft"]["secret_fields"] == ["token"]
    assert tested.stream_id != draft_id
    async with stack.engine.connect() as connection:
        assert (await connection.execute(select(connections))).first() is None
    leak_channels.secrets(TOKEN, WRONG_TOKEN)
    sealed_only = SecretScanner()  # the wrong token went out in plaintext, on purpose
    sealed_only.add("token", TOKEN)
    sealed_only.assert_clean({"nats traffic": b"\n".join(stack.wire)})
    leak_channels.add("replies", [reply, refused])
    for table, rows in (await database_text(stack.engine)).items():
        leak_channels.add(table, rows)
    leak_channels.assert_clean()


async def test_another_tenants_connection_is_not_found(stack: Stack, listener: int) -> None:
    connection_id = await create(stack, tcp_payload(listener))
    document = command("test", connection_id, {}, tenant="intruder")
    inbox = f"{tenant_inbox_prefix('intruder')}.{uuid.uuid4().hex}"
    subscription = await stack.nc.subscribe(inbox)
    subject = f"connmgr.cmd.intruder.test.{connection_id}"
    await stack.nc.jetstream().publish(subject, encode({**document, "reply_to": inbox}))
    reply = json.loads((await subscription.next_msg(timeout=30)).data)
    assert reply["reason"] == "not_found"
    assert await stack.events_of("ConnectionTested") == []


async def test_a_slow_target_does_not_stall_the_others(stack: Stack, listener: int) -> None:
    hung = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never speaks
    hung_port = hung.sockets[0].getsockname()[1]
    try:
        slow = await create(
            stack,
            tcp_payload(
                hung_port,
                config={"host": "127.0.0.1", "port": hung_port, "expect_banner": "x"},
                health_check={"timeout_s": 3},
            ),
        )
        fast = await create(stack, tcp_payload(listener))
        order: list[str] = []

        async def test(connection_id: str, label: str) -> dict[str, Any]:
            reply = await stack.request(command("test", connection_id, {}))
            order.append(label)
            return reply

        slow_tasks = [asyncio.create_task(test(slow, "slow")) for _ in range(4)]
        fast_reply = await test(fast, "fast")
        slow_replies = await asyncio.gather(*slow_tasks)
    finally:
        hung.close()
    assert fast_reply["result"]["outcome"] == "ok"
    assert order[0] == "fast"
    assert {r["result"]["outcome"] for r in slow_replies} == {"timeout"}


async def recorded_outcome(stack: Stack, command_id: str) -> Any:
    async with stack.engine.connect() as connection:
        return await find_outcome(connection, TENANT, command_id)


@pytest.mark.parametrize(
    ("mutate", "headers", "reason"),
    [
        (lambda d: d.update(payload={"draft": False, "note": "x" * 900 * 1024}), {}, "too_large"),
        (lambda d: d.update(surprise=True), {}, "invalid_command"),
        (lambda d: d.update(payload={"draft": "yes"}), {}, "invalid_command"),
        (lambda d: None, {"Nats-Schedule-Target": "connmgr.cmd.x.delete.y"}, "control_headers"),
    ],
    ids=["900-KiB", "unknown-field", "wrong-type", "broker-header"],
)
async def test_a_command_rejected_before_testing_is_answered_and_recorded(
    stack: Stack, counting_listener: CountingListener, mutate: Any, headers: Any, reason: str
) -> None:
    connection_id = await create(stack, tcp_payload(counting_listener.port))
    allowed = await stack.request(command("test", connection_id, {}))
    assert allowed["outcome"] == "accepted"  # positive control: the same test, unchanged

    document = command("test", connection_id, {})
    mutate(document)
    reply = await stack.request(document, headers=headers)

    assert (reply["outcome"], reply["reason"]) == ("rejected", reason)
    recorded = await recorded_outcome(stack, document["command_id"])
    assert recorded is not None
    assert recorded.reason == reason
    assert counting_listener.accepted == 1  # the rejected one never reached the target
    assert len(await stack.events_of("CommandRejected")) == 1


async def test_an_unreadable_test_command_is_recorded_under_its_message_id(stack: Stack) -> None:
    msg_id = str(uuid.uuid4())
    subject = f"connmgr.cmd.{TENANT}.test.{uuid.uuid4()}"
    await stack.nc.jetstream().publish(subject, b"{not json", headers={MSG_ID_HEADER: msg_id})
    recorded = await wait_for(lambda: recorded_outcome(stack, msg_id), message="the rejection")
    assert (recorded.outcome, recorded.reason) == ("rejected", "invalid_json")


async def test_a_test_with_a_foreign_reply_to_is_recorded_and_never_answered(
    stack: Stack, counting_listener: CountingListener
) -> None:
    connection_id = await create(stack, tcp_payload(counting_listener.port))
    watcher = await nats.connect(stack.nc.connected_url.geturl())  # type: ignore[union-attr]
    stolen = f"{tenant_inbox_prefix('intruder')}.{uuid.uuid4().hex}"
    answers = await watcher.subscribe(f"{stolen}.>")
    exact = await watcher.subscribe(stolen)
    await watcher.flush()
    document = command("test", connection_id, {}, reply_to=stolen)
    await stack.nc.jetstream().publish(
        subject_of(document), encode(document), headers={MSG_ID_HEADER: document["command_id"]}
    )
    recorded = await wait_for(lambda: recorded_outcome(stack, document["command_id"]))
    assert (recorded.outcome, recorded.reason) == ("rejected", "invalid_reply_to")
    barrier = await stack.request(command("test", connection_id, {}))  # positive control
    assert barrier["outcome"] == "accepted"
    await watcher.flush()
    assert (answers.pending_msgs, exact.pending_msgs) == (0, 0)
    assert counting_listener.accepted == 1
    await watcher.drain()


async def test_each_delivery_of_a_test_ends_in_one_handled_line_with_its_ids(
    stack: Stack, listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result the database refused is a ``retry`` warning; the redelivery that
    writes it is the ``accepted`` line, with the check's result and duration."""
    connection_id = await create(stack, tcp_payload(listener))
    refused: list[int] = []

    async def refuse_once(engine: AsyncEngine, records: list[TestRecord]) -> Any:
        if not refused:
            refused.append(len(records))
            return [None] * len(records)
        return await record_tests(engine, records)

    monkeypatch.setattr(tester_service, "record_tests", refuse_once)
    document = command("test", connection_id, {}, correlation_id="deploy-12")
    with captured_lines() as lines:
        reply = await stack.request(document)
    assert reply["outcome"] == "accepted"
    ids = {
        "tenant": TENANT,
        "verb": "test",
        "connection_id": connection_id,
        "command_id": document["command_id"],
        "correlation_id": "deploy-12",
        "durable": "tester",
    }
    handled = [line for line in lines if line["event"] == HANDLED and line | ids == line]
    assert [(line["outcome"], line["log_level"], line["delivery"]) for line in handled] == [
        ("retry", "warning", 1),
        ("accepted", "info", 2),
    ]
    assert (handled[1]["result"], handled[1]["reason"]) == ("ok", None)
    assert handled[1]["duration_ms"] > 0
