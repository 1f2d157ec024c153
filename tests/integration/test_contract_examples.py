"""Every channel of the AsyncAPI document carries what the real system sends on it.

One run of the pools (encryptor, tester, prober, relay, notifier) on a private
nats-server and a fresh PostgreSQL, driven by commands a tenant publishes; a spy
connection records every message on the bus. Each recorded message of a channel
is validated against the document served at ``/api/asyncapi.json`` (headers and
payload), and the commands and relayed events also against the standalone JSON
Schema of ``connmgr contract json-schema``. Every channel must be seen, but
those listed in ``NOT_IN_THIS_RUN`` with the reason.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
import pytest
from aiohttp import web
from nats.aio.client import Client
from nats.aio.msg import Msg

from connmgr.api.asyncapi import document_bytes
from connmgr.schemas.asyncapi_channels import COMMAND_VERBS
from connmgr.schemas.bus.headers import MSG_ID_HEADER, TRACEPARENT_HEADER
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.bus.subjects import (
    ADVISORY_PREFIX,
    DEAD_LETTER_ADVISORIES,
    EVENT_PREFIX,
    KV_SUBJECT_PREFIX,
    command_subject,
)
from connmgr.schemas.events import EVENT_TYPES
from connmgr.schemas.sealed import SealKeyInfo
from connmgr.storage.database import create_engine, migrate
from connmgr.workers.keyring import Keyring
from support.commands import TENANT, command, sealed
from support.contract import Contract, check_standalone
from support.fixture_types import NewPostgresUrl, StartNatsServer
from support.pool_stack import in_process_pools, running
from support.waiting import wait_for

NOT_IN_THIS_RUN = {
    "deadLetters": "needs a handler that fails on every delivery (tests/encryptor/"
    "test_dead_letters.py checks one against the document)",
    "deadLetterAdvisory-MAX_DELIVERIES": "the server's, after max_deliver failed deliveries",
    "deadLetterAdvisory-MSG_TERMINATED": "the server's; no pool terminates a command here",
    "streamUpgrade": "exists only while `connmgr streams ensure` re-creates the command stream",
}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Bus:
    producer: Client
    seal_key: SealKeyInfo
    seen: list[Msg] = field(default_factory=list)
    reply_inboxes: set[str] = field(default_factory=set)
    """The ``reply_to`` subjects the commands named (publish acks share their prefix)."""
    invalid: set[str] = field(default_factory=set)
    """Subjects of commands sent invalid on purpose: the document must refuse them too."""

    async def send(
        self, verb: str, connection_id: str, payload: dict[str, Any], *, valid: bool = True
    ) -> Any:
        """Publish a command as a tenant does and wait for its reply."""
        document = command(verb, connection_id, payload)
        inbox = self.producer.new_inbox()
        self.reply_inboxes.add(inbox)
        replies = await self.producer.subscribe(inbox, max_msgs=1)
        headers = {MSG_ID_HEADER: document["command_id"], TRACEPARENT_HEADER: TRACEPARENT}
        body = json.dumps({**document, "reply_to": inbox}).encode()
        subject = command_subject(TENANT, verb, connection_id)
        if not valid:
            self.invalid.add(subject)
        await self.producer.jetstream().publish(subject, body, headers=headers)
        return json.loads((await replies.next_msg(timeout=30)).data)

    def subjects(self, prefix: str) -> set[str]:
        return {message.subject for message in self.seen if message.subject.startswith(prefix)}


@dataclass
class Target:
    """A TCP listener that can be closed and opened again on the same port."""

    port: int = 0
    server: asyncio.Server | None = None

    async def open(self) -> None:
        self.server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    """Webhooks: ``/ok`` answers 200, ``/gone`` 404; ``/private`` refuses every login."""
    statuses = {"ok": 200, "gone": 404, "private": 401}

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=statuses[request.match_info["path"]])

    app = web.Application()
    app.router.add_route("*", "/{path}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.fixture
async def bus(
    nats_server_factory: StartNatsServer, fresh_pg_url: NewPostgresUrl
) -> AsyncIterator[Bus]:
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    spy = await nats.connect(server.url)
    seen: list[Msg] = []
    await spy.subscribe(">", cb=_recorder(seen))
    await spy.flush()
    pools_nc = await nats.connect(server.url)
    producer = await nats.connect(server.url, inbox_prefix=tenant_inbox_prefix(TENANT))
    keyring = Keyring.generate()
    async with running(in_process_pools(pools_nc, engine, keyring, tester=True)):
        yield Bus(producer, keyring.seal_public_info(), seen)
    for client in (producer, pools_nc, spy):
        await client.drain()
    await engine.dispose()


def _recorder(seen: list[Msg]) -> Callable[[Msg], Any]:
    async def record(message: Msg) -> None:
        seen.append(message)

    return record


async def test_every_channel_carries_messages_that_match_the_document(
    bus: Bus, receiver: str
) -> None:
    contract = Contract(json.loads(document_bytes()))
    await _drive_every_channel(bus, receiver)
    await wait_for(lambda: _event_types(bus) >= EVENT_TYPES.keys(), timeout=40)
    await wait_for(lambda: bool(bus.subjects("connmgr.probe.")), timeout=40)

    by_channel: dict[str, int] = {}
    for message in list(bus.seen):
        if not _ours(message.subject, bus.reply_inboxes):
            continue
        channel = contract.channel_of(message.subject)
        if message.subject in bus.invalid:
            errors = contract.errors(
                contract.message_of(channel)["payload"], json.loads(message.data)
            )
            assert errors, message.subject
            continue
        payload = contract.check(channel, message.headers, message.data)
        by_channel[channel] = by_channel.get(channel, 0) + 1
        _check_standalone(channel, payload)

    expected = set(contract.document["channels"]) - set(NOT_IN_THIS_RUN)
    assert set(by_channel) == expected


async def _drive_every_channel(bus: Bus, receiver: str) -> None:
    target = Target()
    await target.open()
    try:
        for path in ("ok", "gone"):
            channel = {"name": f"hook-{path}", "kind": "webhook", "tags": ["notify"]}
            await _created(bus, {**channel, "config": {"url": f"{receiver}/{path}"}})
        scheduled = _tcp(target.port, enabled=True, interval_s=10)
        await _created(bus, scheduled)
        watched = await _created(bus, _tcp(target.port))
        assert (await bus.send("check", watched, {}))["result"]["outcome"] == "ok"
        await target.close()
        assert (await bus.send("check", watched, {}))["result"]["outcome"] != "ok"
        await target.open()
        assert (await bus.send("check", watched, {}))["result"]["outcome"] == "ok"
        assert (await bus.send("test", watched, {}))["outcome"] == "accepted"
        draft = {**_tcp(target.port), "draft": True}
        assert (await bus.send("test", str(uuid.uuid4()), draft))["outcome"] == "accepted"
        renamed = await bus.send("update", watched, {"name": "svc-renamed"})
        assert renamed["outcome"] == "accepted"
        await _suspend_and_rotate(bus, receiver)
        deleted = await bus.send("delete", watched, {"reason": "done"})
        assert deleted["outcome"] == "accepted"
        ftp = {"name": "x", "kind": "ftp"}
        refused = await bus.send("create", str(uuid.uuid4()), ftp, valid=False)
        assert (refused["outcome"], refused["reason"]) == ("rejected", "unknown_kind")
    finally:
        await target.close()


async def _suspend_and_rotate(bus: Bus, receiver: str) -> None:
    """An HTTP target that refuses the token: one check suspends probing; then rotate."""
    connection_id = str(uuid.uuid4())
    payload = {
        "name": "private-api",
        "kind": "http",
        "config": {"base_url": receiver, "test": {"path": "/private"}},
        "auth": {"method": "bearer"},
        "secrets": sealed({"token": "first"}, bus.seal_key, connection_id),
        "health_check": {"auth_failure_limit": 1},
    }
    assert (await bus.send("create", connection_id, payload))["outcome"] == "accepted"
    assert (await bus.send("check", connection_id, {}))["result"]["outcome"] == "auth_failed"
    secrets = sealed({"token": "second"}, bus.seal_key, connection_id)
    assert (await bus.send("rotate", connection_id, {"secrets": secrets}))["outcome"] == "accepted"


async def _created(bus: Bus, payload: dict[str, Any]) -> str:
    connection_id = str(uuid.uuid4())
    outcome = await bus.send("create", connection_id, payload)
    assert outcome["outcome"] == "accepted", outcome
    return connection_id


def _tcp(port: int, **health: Any) -> dict[str, Any]:
    settings = {"failure_threshold": 1, "recovery_threshold": 1, **health}
    config = {"host": "127.0.0.1", "port": port}
    name = f"svc-{uuid.uuid4().hex[:12]}"  # names are unique per tenant
    return {"name": name, "kind": "tcp", "config": config, "health_check": settings}


def _event_types(bus: Bus) -> set[str]:
    return {subject.rsplit(".", 1)[1] for subject in bus.subjects(f"{EVENT_PREFIX}.")}


def _ours(subject: str, reply_inboxes: set[str]) -> bool:
    """Messages of connmgr's channels: not JetStream's API, acks, other advisories or the
    pools' pull inboxes."""
    advisories = tuple(f"{ADVISORY_PREFIX}.{kind}." for kind in DEAD_LETTER_ADVISORIES)
    prefixes = ("connmgr.", f"{KV_SUBJECT_PREFIX}.", *advisories)
    return subject.startswith(prefixes) or subject in reply_inboxes


def _check_standalone(channel: str, payload: Any) -> None:
    """Commands and relayed events match the standalone 2020-12 schemas too."""
    if channel.startswith("command-"):
        check_standalone(COMMAND_VERBS[channel.removeprefix("command-")], payload)
    elif channel.startswith("event-"):
        check_standalone(f"{payload['type']}Message", payload)
