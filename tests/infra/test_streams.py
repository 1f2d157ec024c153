"""Stream definitions: created once, upgraded in place (or re-created keeping the
commands when the server refuses the update), and written only when they differ,
so a pool with read-only JetStream rights starts against declared streams."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from connmgr.schemas.bus.consumers import (
    ALL_DURABLES,
    ENCRYPTOR_CONSUMER,
    NOTIFIER_CONSUMER,
    PROBER_CONSUMER,
)
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.streams import COMMAND_STREAM, SCHEDULE_STREAM, UPGRADE_STREAM
from connmgr.schemas.bus.subjects import command_subject, probe_subject, schedule_subject
from connmgr.workers.durables import consumer_config, ensure_consumer, ensure_consumers
from connmgr.workers.streams import ensure_streams
from support.fixture_types import StartNatsServer
from support.waiting import wait_for


@pytest.fixture
async def nc(nats_server_factory: StartNatsServer) -> AsyncIterator[Client]:
    server = await nats_server_factory()
    client = await nats.connect(server.url)
    yield client
    await client.close()


def previous_command_stream() -> StreamConfig:
    """CONNMGR_CMD as deployments before the schedule stream declared it."""
    return StreamConfig(
        name=COMMAND_STREAM,
        subjects=["connmgr.cmd.>", "connmgr.schedule.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        allow_msg_schedules=True,
        allow_rollup_hdrs=True,
        storage=StorageType.FILE,
        duplicate_window=120.0,
        max_msg_size=1024 * 1024,
    )


async def stored(nc: Client, stream: str) -> list[tuple[str, bytes, str | None]]:
    """Every message of the stream: subject, body, Nats-Msg-Id."""
    found, sequence = [], 1
    while True:
        try:
            message = await nc.jetstream().get_msg(stream, sequence, next=True)
        except NotFoundError:
            return found
        found.append(
            (message.subject or "", message.data or b"", (message.headers or {}).get(MSG_ID_HEADER))
        )
        sequence = (message.seq or sequence) + 1


async def test_a_command_stream_with_schedules_is_recreated_keeping_its_commands(
    nc: Client,
) -> None:
    js = nc.jetstream()
    await js.add_stream(previous_command_stream())
    for spec in (ENCRYPTOR_CONSUMER, PROBER_CONSUMER):
        await js.add_consumer(COMMAND_STREAM, consumer_config(spec))
    commands = [
        (command_subject("a", "create", "c1"), b'{"n": 1}', "id-1"),
        (command_subject("b", "delete", "c2"), b'{"n": 2}', "id-2"),
    ]
    for subject, body, msg_id in commands:
        await js.publish(subject, body, headers={MSG_ID_HEADER: msg_id})
    await js.publish(
        schedule_subject("a", "c1"),
        b"{}",
        headers={
            "Nats-Schedule": "@every 1s",
            "Nats-Schedule-Target": command_subject("a", "check", "c1"),
        },
    )
    fired = lambda: stored_count(nc, command_subject("a", "check", "c1"))  # noqa: E731
    await wait_for(fired, timeout=15, message="the old schedule fired into the command stream")

    await ensure_streams(js)

    info = await js.stream_info(COMMAND_STREAM)
    assert info.config.subjects == ["connmgr.cmd.>"]
    assert not info.config.allow_msg_schedules
    assert not info.config.allow_rollup_hdrs
    assert not info.config.allow_msg_ttl
    assert info.config.deny_purge
    assert await stored(nc, COMMAND_STREAM) == commands  # no schedule, no firing
    names = {consumer.name for consumer in await js.consumers_info(COMMAND_STREAM)}
    assert names == {ENCRYPTOR_CONSUMER.durable, PROBER_CONSUMER.durable}
    with pytest.raises(NotFoundError):
        await js.stream_info(UPGRADE_STREAM)
    assert (await js.stream_info(SCHEDULE_STREAM)).config.allow_msg_schedules
    pulled = await js.pull_subscribe_bind(ENCRYPTOR_CONSUMER.durable, COMMAND_STREAM)
    delivered = await pulled.fetch(2, timeout=5)
    assert [message.data for message in delivered] == [b'{"n": 1}', b'{"n": 2}']

    last = (await js.stream_info(COMMAND_STREAM)).state.last_seq
    await ensure_streams(js)
    assert (await js.stream_info(COMMAND_STREAM)).state.last_seq == last


async def stored_count(nc: Client, subject: str) -> int:
    info = await nc.jetstream().stream_info(COMMAND_STREAM, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def test_an_older_command_stream_without_schedules_is_updated_in_place(
    nc: Client,
) -> None:
    js = nc.jetstream()
    old = dataclasses.replace(
        previous_command_stream(),
        subjects=["connmgr.cmd.>"],
        allow_msg_schedules=None,
        allow_rollup_hdrs=True,
    )
    await js.add_stream(old)
    await js.publish(command_subject("a", "create", "c1"), b"{}", headers={MSG_ID_HEADER: "x"})
    await ensure_streams(js)
    info = await js.stream_info(COMMAND_STREAM)
    assert (info.config.allow_rollup_hdrs, info.config.deny_purge) == (False, True)
    assert info.state.messages == 1
    assert info.config.num_replicas == 1


@dataclasses.dataclass
class ApiRequests:
    """Every JetStream API request on the server's account, by subject."""

    subjects: list[str] = dataclasses.field(default_factory=list)


async def watch_api(nc: Client) -> ApiRequests:
    requests = ApiRequests()

    async def seen(message: Msg) -> None:
        requests.subjects.append(message.subject)

    await nc.subscribe("$JS.API.>", cb=seen)
    await nc.flush()
    return requests


async def test_declared_streams_and_consumers_are_only_read_at_a_pools_start(
    nats_server_factory: StartNatsServer,
) -> None:
    server = await nats_server_factory()
    operator, pool, monitor = [await nats.connect(server.url) for _ in range(3)]
    try:
        requests = await watch_api(monitor)
        await ensure_streams(pool.jetstream())
        await ensure_consumer(pool.jetstream(), COMMAND_STREAM, ENCRYPTOR_CONSUMER)
        await monitor.flush()
        first_start = list(requests.subjects)
        # positive control: on an empty server the same calls create
        assert f"$JS.API.STREAM.CREATE.{COMMAND_STREAM}" in first_start
        assert any(".CREATE." in subject and "CONSUMER" in subject for subject in first_start)

        await ensure_streams(operator.jetstream())
        await ensure_consumers(operator.jetstream())
        requests.subjects.clear()
        await ensure_streams(pool.jetstream())
        await ensure_consumer(pool.jetstream(), COMMAND_STREAM, ENCRYPTOR_CONSUMER)
        await monitor.flush()
        assert requests.subjects
        assert all(
            subject.startswith(("$JS.API.STREAM.INFO.", "$JS.API.CONSUMER.INFO."))
            for subject in requests.subjects
        ), requests.subjects
        for stream, spec in ALL_DURABLES:
            info = await pool.jetstream().consumer_info(stream, spec.durable)
            wanted = DeliverPolicy.NEW if spec.new_messages_only else DeliverPolicy.ALL
            assert (info.name, info.config.deliver_policy) == (spec.durable, wanted)
        assert NOTIFIER_CONSUMER.new_messages_only  # no replay of old alerts to channels
    finally:
        for client in (operator, pool, monitor):
            await client.close()


# Each attack with the JetStream error code nats-server 2.15.1 refuses it with: the
# refusal must come from the stream flag that disables the header, not from anything else.
SCHEDULES_DISABLED, ROLLUP_NOT_PERMITTED, TTL_DISABLED = 10188, 10111, 10166
COUNTERS_DISABLED, ATOMIC_PUBLISH_DISABLED, INVALID_SCHEDULER = 10168, 10174, 10212
ATTACKS = [
    pytest.param(
        {
            "Nats-Schedule": "@at 2020-01-01T00:00:00Z",
            "Nats-Schedule-Target": command_subject("b", "delete", "victim"),
        },
        SCHEDULES_DISABLED,
        id="schedule-at-another-tenant",
    ),
    pytest.param(
        {"Nats-Schedule": "@every 1s", "Nats-Schedule-Target": command_subject("b", "delete", "v")},
        SCHEDULES_DISABLED,
        id="schedule-every",
    ),
    pytest.param({"Nats-Rollup": "all"}, ROLLUP_NOT_PERMITTED, id="rollup-all"),
    pytest.param({"Nats-Rollup": "sub"}, ROLLUP_NOT_PERMITTED, id="rollup-sub"),
    pytest.param({"Nats-TTL": "1s"}, TTL_DISABLED, id="ttl"),
    pytest.param({"Nats-Incr": "1"}, COUNTERS_DISABLED, id="counter"),
    pytest.param(
        {"Nats-Batch-Id": "x", "Nats-Batch-Sequence": "1"},
        ATOMIC_PUBLISH_DISABLED,
        id="atomic-batch",
    ),
    pytest.param(
        {"Nats-Scheduler": schedule_subject("b", "v")}, INVALID_SCHEDULER, id="forged-scheduler"
    ),
]


@pytest.mark.parametrize(("headers", "err_code"), ATTACKS)
async def test_the_server_refuses_control_headers_on_the_command_stream(
    nc: Client, headers: dict[str, str], err_code: int
) -> None:
    js = nc.jetstream()
    await ensure_streams(js)
    victim = command_subject("b", "create", "victim")
    await js.publish(victim, b'{"victim": true}', headers={MSG_ID_HEADER: "v1"})
    own = command_subject("a", "delete", "mine")
    ack = await js.publish(own, b"{}", headers={MSG_ID_HEADER: "control"})  # positive control
    assert ack.stream == COMMAND_STREAM
    before = await stored(nc, COMMAND_STREAM)
    with pytest.raises(nats.js.errors.APIError) as refusal:
        await js.publish(own, b'{"attack": true}', headers={MSG_ID_HEADER: "attack", **headers})
    assert refusal.value.err_code == err_code, refusal.value
    await nc.flush()
    assert await stored(nc, COMMAND_STREAM) == before


TENANT_USERS = """
accounts {
  APP {
    jetstream: enabled
    users: [
      {user: a, password: a, permissions: {publish: {allow: ["connmgr.cmd.a.>", "$JS.API.>"]}}}
      {user: root, password: root}
    ]
  }
}
"""


async def test_a_trace_destination_on_another_tenants_subject_is_a_permission_violation(
    nats_server_factory: StartNatsServer,
) -> None:
    """The server checks the sender's publish permission on ``Nats-Trace-Dest``: a
    tenant allowed only its own subjects cannot have a trace event land on another's.
    (Without that permission the event would be stored in CONNMGR_CMD on b's subject.)"""
    server = await nats_server_factory(extra_config=TENANT_USERS)
    errors: list[Exception] = []

    async def on_error(error: Exception) -> None:
        errors.append(error)

    root = await nats.connect(server.url, user="root", password="root")
    tenant = await nats.connect(server.url, user="a", password="a", error_cb=on_error)
    try:
        await ensure_streams(root.jetstream())
        before = await stored(root, COMMAND_STREAM)
        own = command_subject("a", "check", "mine")
        await tenant.publish(own, b"{}", headers={"Nats-Trace-Dest": own})  # positive control
        await wait_for(lambda: stored_count(root, own), message="own trace lands on own subject")
        victim = command_subject("b", "delete", "victim")
        await tenant.publish(own, b"{}", headers={"Nats-Trace-Dest": victim})
        await wait_for(lambda: errors, message="a permissions violation")
        assert "permissions violation" in str(errors[0]).lower()
        await root.flush()
        after = await stored(root, COMMAND_STREAM)
        assert not [entry for entry in after if entry[0] == victim]
        assert len(after) == len(before) + 2  # the own publish and its own trace event
    finally:
        await tenant.close()
        await root.close()


async def test_firings_and_commands_land_in_separate_streams(nc: Client) -> None:
    js = nc.jetstream()
    await ensure_streams(js)
    info = await js.stream_info(SCHEDULE_STREAM)
    assert set(info.config.subjects or []) == {"connmgr.schedule.>", "connmgr.probe.>"}
    assert info.config.allow_rollup_hdrs
    assert (await js.publish(probe_subject("a", "c1"), b"{}")).stream == SCHEDULE_STREAM
    assert (await js.publish(schedule_subject("a", "c1"), b"{}")).stream == SCHEDULE_STREAM
    assert (await js.publish(command_subject("a", "check", "c1"), b"{}")).stream == COMMAND_STREAM
