"""One trace across NATS hops, recorded by the SDK's in-memory exporter (docs/decisions.md,
"Traces across NATS hops").

The pools run in process (encryptor, relay, tester, prober, notifier) on a private nats-server
and a fresh PostgreSQL; a spy records the relayed events with their headers and a
local receiver the webhook requests with theirs.

- ``Producer.create`` -> encryptor -> the relayed ``ConnectionCreated``: one trace, each
  span the child of the one before, the event's metadata and headers naming them.
- A scheduled check -> prober (a root: no producer's trace) -> its phase spans -> the
  ``AlertRaised`` it causes -> relay -> notifier -> the webhook request's header.
- ``Producer.test`` -> tester -> its check and phase spans -> the ``ConnectionTested``.
- A command without a ``traceparent``, or with a malformed one, gets a trace rooted at
  the encryptor; the malformed text reaches neither metadata nor a header. Two tenants'
  commands in one batch each keep their own trace.
- With no provider installed, a valid ``traceparent`` passes through to the metadata
  and the relayed header unchanged and a malformed one is dropped.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

import nats
import pytest
from aiohttp import web
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from connmgr.producers import ConnectionSpec, Producer
from connmgr.schemas.bus.headers import MSG_ID_HEADER, TRACEPARENT_HEADER
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.bus.subjects import EVENT_PREFIX, command_subject
from connmgr.storage.database import create_engine, migrate
from connmgr.workers.keyring import Keyring
from support.commands import command
from support.fixture_types import NewPostgresUrl, StartNatsServer
from support.pool_stack import in_process_pools, running
from support.tracing import named, parent_id, recorded_spans, span_id, trace_id, traceparent_of_span
from support.waiting import wait_for

TENANT: Final = "acme"
OTHER_TENANT: Final = "globex"
SENDER: Final = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OTHER_SENDER: Final = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
MALFORMED: Final = [
    f"{SENDER}\r\nX-Injected: 1",
    f"{SENDER},congo=t61rcWkgMzE",
    f"{SENDER}-00",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    SENDER.upper(),
    SENDER + "0" * 4096,
]


@dataclass
class Stack:
    nc: Client
    producer: Producer
    relayed: list[Msg] = field(default_factory=list)
    hooks: list[dict[str, str]] = field(default_factory=list)
    hook_url: str = ""

    def event(self, connection_id: str, event_type: str) -> Msg | None:
        suffix = f".{connection_id}.{event_type}"
        return next((m for m in self.relayed if m.subject.endswith(suffix)), None)

    async def wait_event(self, connection_id: str, event_type: str) -> Msg:
        found = await wait_for(lambda: self.event(connection_id, event_type), timeout=40)
        assert found is not None
        return found

    async def publish(self, tenant: str, payload: dict[str, Any], traceparent: str | None) -> str:
        """A command as a producer in any language sends it, with or without a header."""
        connection_id = str(uuid.uuid4())
        document = command("create", connection_id, payload, tenant=tenant)
        headers = {MSG_ID_HEADER: document["command_id"]}
        if traceparent is not None:
            headers[TRACEPARENT_HEADER] = traceparent
        subject = command_subject(tenant, "create", connection_id)
        await self.nc.jetstream().publish(subject, json.dumps(document).encode(), headers=headers)
        return connection_id


@pytest.fixture
async def stack(
    nats_server_factory: StartNatsServer, fresh_pg_url: NewPostgresUrl
) -> AsyncIterator[Stack]:
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    hooks: list[dict[str, str]] = []
    receiver = await _receiver(hooks)
    pools_nc = await nats.connect(server.url)
    producer_nc = await nats.connect(server.url, inbox_prefix=tenant_inbox_prefix(TENANT))
    keyring = Keyring.generate()
    async with running(in_process_pools(pools_nc, engine, keyring, tester=True)):
        spy = await nats.connect(server.url)
        producer = Producer(producer_nc, tenant=TENANT, actor_id="ops")
        await producer.start()
        found = Stack(pools_nc, producer, hooks=hooks, hook_url=_url(receiver))

        async def relayed(message: Msg) -> None:
            found.relayed.append(message)

        await spy.subscribe(f"{EVENT_PREFIX}.>", cb=relayed)
        await spy.flush()
        yield found
    await producer.close()
    for client in (producer_nc, pools_nc, spy):
        await client.drain()
    await receiver.cleanup()
    await engine.dispose()


async def _receiver(hooks: list[dict[str, str]]) -> web.AppRunner:
    async def answer(request: web.Request) -> web.Response:
        hooks.append(dict(request.headers))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def _url(runner: web.AppRunner) -> str:
    return f"http://127.0.0.1:{runner.addresses[0][1]}/hook"


def _tcp(port: int, **health: Any) -> dict[str, Any]:
    name = f"svc-{uuid.uuid4().hex[:8]}"  # names are unique per tenant
    return {"name": name, "kind": "tcp", "config": {"host": "127.0.0.1", "port": port}, **health}


def _metadata(message: Msg) -> dict[str, Any]:
    metadata: dict[str, Any] = json.loads(message.data)["metadata"]
    return metadata


async def test_one_trace_from_producer_create_to_the_relayed_connection_created(
    stack: Stack,
) -> None:
    with recorded_spans() as spans:
        outcome = await stack.producer.create(ConnectionSpec(**_tcp(9)))
        assert outcome.outcome == "accepted"
        relayed = await stack.wait_event(str(outcome.connection_id), "ConnectionCreated")
        await wait_for(lambda: named(spans, "relay publish"), timeout=10)

    (create,) = named(spans, "create command")
    (handled,) = named(spans, "encryptor process")
    (published,) = named(spans, "relay publish")
    assert create.parent is None
    assert create.kind is SpanKind.PRODUCER
    assert parent_id(handled) == span_id(create)
    assert handled.attributes is not None
    assert handled.attributes["connmgr.outcome"] == "accepted"
    assert parent_id(published) == span_id(handled)
    assert {trace_id(create), trace_id(handled), trace_id(published)} == {trace_id(create)}
    assert _metadata(relayed)["traceparent"] == traceparent_of_span(handled)
    assert relayed.headers is not None
    assert relayed.headers[TRACEPARENT_HEADER] == traceparent_of_span(published)
    assert "tracestate" not in relayed.headers


async def test_a_test_command_continues_the_producers_trace_through_the_check_phases(
    stack: Stack,
) -> None:
    target = await asyncio.start_server(_wrong_banner, "127.0.0.1", 0)
    created = await stack.producer.create(
        ConnectionSpec(**_tcp(target.sockets[0].getsockname()[1]))
    )
    with recorded_spans() as spans:
        outcome = await stack.producer.test(created.connection_id)
        assert outcome.outcome == "accepted"
        tested = await stack.wait_event(str(created.connection_id), "ConnectionTested")
        await wait_for(lambda: named(spans, "tester test"), timeout=10)
    target.close()

    (request,) = named(spans, "test command")
    (handled,) = named(spans, "tester test")
    (check,) = named(spans, "check")
    assert parent_id(handled) == span_id(request)
    assert parent_id(check) == span_id(handled)
    phases = [s for s in spans.get_finished_spans() if parent_id(s) == span_id(check)]
    assert [s.name for s in phases] == ["check resolve", "check connect"]
    assert _metadata(tested)["traceparent"] == traceparent_of_span(handled)


async def test_a_command_without_traceparent_gets_a_trace_rooted_at_the_worker(
    stack: Stack,
) -> None:
    with recorded_spans() as spans:
        connection_id = await stack.publish(TENANT, _tcp(9), traceparent=None)
        relayed = await stack.wait_event(connection_id, "ConnectionCreated")
        await wait_for(lambda: named(spans, "encryptor process"), timeout=10)

    (handled,) = named(spans, "encryptor process")
    assert handled.parent is None  # a root, not a child of anything current in the worker
    assert _metadata(relayed)["traceparent"] == traceparent_of_span(handled)


async def test_a_malformed_traceparent_is_dropped_and_each_tenant_keeps_its_own_trace(
    stack: Stack,
) -> None:
    """One batch: two tenants' valid traceparents and the malformed ones. Each valid one
    parents only its own command's span; a malformed one reaches no metadata or header."""
    with recorded_spans() as spans:
        ours = await stack.publish(TENANT, _tcp(9), SENDER)
        theirs = await stack.publish(OTHER_TENANT, _tcp(9), OTHER_SENDER)
        malformed = [await stack.publish(TENANT, _tcp(9), value) for value in MALFORMED]
        relayed = {
            connection_id: await stack.wait_event(connection_id, "ConnectionCreated")
            for connection_id in [ours, theirs, *malformed]
        }
        expected = 2 + len(MALFORMED)
        await wait_for(lambda: len(named(spans, "encryptor process")) == expected, timeout=10)

    assert _metadata(relayed[ours])["traceparent"].split("-")[1] == SENDER.split("-")[1]
    assert _metadata(relayed[theirs])["traceparent"].split("-")[1] == OTHER_SENDER.split("-")[1]
    handled = named(spans, "encryptor process")
    roots = [span for span in handled if span.parent is None]
    assert len(roots) == len(MALFORMED)
    sent = {SENDER.split("-")[1], OTHER_SENDER.split("-")[1]}
    for connection_id in malformed:
        message = relayed[connection_id]
        metadata_trace = _metadata(message)["traceparent"].split("-")[1]
        assert metadata_trace not in sent
        assert message.headers is not None
        assert message.headers[TRACEPARENT_HEADER].split("-")[1] == metadata_trace
        for value in MALFORMED:
            assert value not in message.data.decode()
            assert value not in message.headers.values()


async def test_with_no_provider_a_valid_traceparent_passes_through_and_a_malformed_one_is_dropped(
    stack: Stack,
) -> None:
    passed = await stack.publish(TENANT, _tcp(9), SENDER)
    dropped = await stack.publish(TENANT, _tcp(9), MALFORMED[0])
    passed_event = await stack.wait_event(passed, "ConnectionCreated")
    dropped_event = await stack.wait_event(dropped, "ConnectionCreated")

    assert _metadata(passed_event)["traceparent"] == SENDER
    assert passed_event.headers is not None
    assert passed_event.headers[TRACEPARENT_HEADER] == SENDER
    assert "traceparent" not in _metadata(dropped_event)
    assert dropped_event.headers is not None
    assert TRACEPARENT_HEADER not in dropped_event.headers


async def test_a_scheduled_check_traces_to_the_alert_the_notifier_and_the_webhook_request(
    stack: Stack,
) -> None:
    """A notification is caused by a check, never by a create: the prober's span is a
    root, in another trace than the create of the connection it checks."""
    target = await asyncio.start_server(_wrong_banner, "127.0.0.1", 0)
    port = target.sockets[0].getsockname()[1]
    with recorded_spans() as spans:
        hook = {"name": "hook", "kind": "webhook", "tags": ["notify"]}
        hooked = await stack.producer.create(ConnectionSpec(**hook, config={"url": stack.hook_url}))
        assert hooked.outcome == "accepted"
        health = {"enabled": True, "interval_s": 10, "failure_threshold": 1}
        checked_tcp = _tcp(port, health_check=health)
        checked_tcp["config"]["expect_banner"] = "SSH-"  # the target says HELLO: protocol_error
        created = await stack.producer.create(ConnectionSpec(**checked_tcp))
        assert created.outcome == "accepted"
        alert = await stack.wait_event(str(created.connection_id), "AlertRaised")
        await wait_for(lambda: stack.hooks, timeout=20)
        await wait_for(lambda: named(spans, "notifier process"), timeout=10)
    target.close()

    (checked,) = [s for s in named(spans, "prober check") if _attribute(s, "scheduled")]
    (check,) = [s for s in named(spans, "check") if parent_id(s) == span_id(checked)]
    phases = [s for s in spans.get_finished_spans() if parent_id(s) == span_id(check)]
    assert checked.parent is None
    assert [s.name for s in phases] == ["check resolve", "check connect", "check query"]
    for phase in phases:
        assert _within(phase, check)
    assert check.attributes == {
        "connmgr.check.kind": "tcp",
        "connmgr.check.outcome": "protocol_error",
    }
    assert _metadata(alert)["traceparent"] == traceparent_of_span(checked)
    (published,) = [
        s
        for s in named(spans, "relay publish")
        if parent_id(s) == span_id(checked) and _attribute(s, "event_type") == "AlertRaised"
    ]
    (notified,) = [
        s for s in named(spans, "notifier process") if parent_id(s) == span_id(published)
    ]
    (posted,) = [s for s in named(spans, "webhook POST") if parent_id(s) == span_id(notified)]
    assert stack.hooks[-1][TRACEPARENT_HEADER] == traceparent_of_span(posted)
    assert "tracestate" not in {name.lower() for name in stack.hooks[-1]}
    assert trace_id(checked) not in {trace_id(s) for s in named(spans, "create command")}


def _attribute(span: ReadableSpan, name: str) -> object:
    return (span.attributes or {}).get(f"connmgr.{name}") or (span.attributes or {}).get(
        f"connmgr.check.{name}"
    )


def _within(inner: ReadableSpan, outer: ReadableSpan) -> bool:
    times = (outer.start_time, inner.start_time, inner.end_time, outer.end_time)
    assert all(moment is not None for moment in times)
    return sorted(times) == list(times)  # type: ignore[type-var]


async def _wrong_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HELLO\r\n")
    await writer.drain()
    writer.close()
