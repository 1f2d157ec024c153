"""Issue 9, deliverable 8: the broker boundary, attacked end to end.

One stack for the module: the shipped ``infra/nats`` configuration on a real
nats-server with the auth callout (``support.secured_broker``), a migrated
PostgreSQL database, and the encryptor, tester and relay pools running as their
shipped users. Two tenants are provisioned the documented way (tokens issued in
the token store): ``a``, the attacker, and ``b``, the victim.

The victim creates a connection with a sealed secret through its producer
identity, and leaves a ``check`` command queued in ``CONNMGR_CMD`` (no prober
runs, so it stays). Its state is then snapshotted: its projection rows, its data
key row, every event row of ``b`` (all columns, hash included), its recorded
outcomes, and its queued commands in the broker.

Each test is one attack of the issue, made as tenant ``a`` through its callout
identity. After it, a positive control: ``a``'s own valid command gets its outcome
on ``a``'s inbox, and the encryptor's durable has nothing pending (the pipeline
caught up, so anything the attack could have set off has been handled). Then:

- the attack was refused: a permissions violation naming the subject, a server
  error for the publish, or a recorded rejection of ``a``'s own command with the
  expected reason;
- ``b``'s snapshot is equal, value for value (bytes for the wrapped data key);
- every stream and every pool durable still exists;
- the encryptor's loop is still running.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import nats.js.errors
import pytest
from nats.aio.msg import Msg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.producers.client import Producer
from connmgr.runtime.pool_startup import Resources, start_pool
from connmgr.schemas.bus.consumers import (
    ALL_DURABLES,
    ENCRYPTOR_CONSUMER,
    PROBER_CONSUMER,
    TESTER_CONSUMER,
)
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.inboxes import gateway_inbox_prefix, pool_inbox_prefix, tenant_inbox_prefix
from connmgr.schemas.bus.streams import (
    COMMAND_STREAM,
    DEAD_LETTER_STREAM,
    EVENT_STREAM,
    KEYS_BUCKET,
    SCHEDULE_STREAM,
    SEAL_KEY_ENTRY,
)
from connmgr.schemas.bus.subjects import (
    command_subject,
    event_subject,
    probe_subject,
    schedule_subject,
)
from connmgr.schemas.connection_spec import ConnectionChanges, ConnectionSpec
from connmgr.schemas.identities import tenant_command_subjects, tenant_event_filter
from connmgr.schemas.outcomes import CommandOutcome, Reason
from connmgr.storage.command_log import find_outcome
from connmgr.storage.tables import connection_tags, connections, data_keys, events, handled_commands
from connmgr.storage.tokens import SCOPE_COMMANDS_WRITE, issue_token
from connmgr.workers.keyring import Keyring
from support.commands import command, encode, postgres_payload, sealed
from support.databases import migrated_engine, temporary_postgres_database
from support.secured_broker import SecuredBroker, Watched, refused
from support.tenants import request_as
from support.waiting import wait_for

ATTACKER, VICTIM = "a", "b"
RUNNING_POOLS = ("encryptor", "tester", "relay")
STREAMS = (COMMAND_STREAM, EVENT_STREAM, SCHEDULE_STREAM, DEAD_LETTER_STREAM, f"KV_{KEYS_BUCKET}")
SECRET = "victim-password-9f3c"
VICTIM_DESCRIPTION = "the victim's own words"
SCHEDULES_DISABLED = 10188
"""JetStream's error code: the stream does not allow message schedules."""
ROLLUP_NOT_PERMITTED = 10111
"""JetStream's error code: the stream does not allow rollups."""


@dataclass
class Victim:
    connection_id: str
    created: CommandOutcome
    updated: CommandOutcome


@dataclass
class Stack:
    broker: SecuredBroker
    engine: AsyncEngine
    keyring: Keyring
    attacker: Watched
    attacker_producer: Producer
    victim: Victim
    victim_inbox: list[Msg]
    pools: dict[str, asyncio.Task[None]]
    operator: Watched

    async def snapshot(self) -> dict[str, Any]:
        """Everything of ``b``'s that an attack could change, from the database and broker."""
        state: dict[str, Any] = {}
        victim_id = self.victim.connection_id
        async with self.engine.connect() as connection:
            for name, query in (
                ("connection", select(connections).where(connections.c.id == victim_id)),
                (
                    "tags",
                    select(connection_tags).where(connection_tags.c.connection_id == victim_id),
                ),
                ("data_key", select(data_keys).where(data_keys.c.connection_id == victim_id)),
                (
                    "events",
                    select(events).where(events.c.tenant == VICTIM).order_by(events.c.position),
                ),
                (
                    "outcomes",
                    select(handled_commands)
                    .where(handled_commands.c.tenant == VICTIM)
                    .order_by(handled_commands.c.command_id),
                ),
            ):
                state[name] = [dict(row._mapping) for row in await connection.execute(query)]
        js = self.operator.nc.jetstream()
        info = await js.stream_info(COMMAND_STREAM, subjects_filter=tenant_command_subjects(VICTIM))
        state["queued"] = dict(info.state.subjects or {})
        state["seal_key"] = (await (await js.key_value(KEYS_BUCKET)).get(SEAL_KEY_ENTRY)).value
        return state

    async def caught_up(self) -> None:
        """Positive control: ``a``'s own command is answered, and the encryptor's durable
        has handled everything before it."""
        created = await self.attacker_producer.create(
            ConnectionSpec(
                name=f"control-{uuid.uuid4().hex[:8]}",
                kind="postgres",
                config={"host": "db.internal", "port": 5432, "database": "a", "ssl": "require"},
                auth={"method": "basic", "username": "app"},
                secrets={"password": "attacker-own"},
            )
        )
        assert created.outcome == "accepted", created
        js = self.operator.nc.jetstream()

        async def drained() -> bool:
            info = await js.consumer_info(COMMAND_STREAM, ENCRYPTOR_CONSUMER.durable)
            return (info.num_pending, info.num_ack_pending) == (0, 0)

        await wait_for(drained, message="the encryptor's durable drained")

    async def everything_exists(self) -> None:
        js = self.operator.nc.jetstream()
        for stream in STREAMS:
            assert (await js.stream_info(stream)).config.name == stream
        for stream, spec in ALL_DURABLES:
            assert (await js.consumer_info(stream, spec.durable)).name == spec.durable

    async def outcome_of(self, command_id: str) -> CommandOutcome | None:
        async with self.engine.connect() as connection:
            return await find_outcome(connection, ATTACKER, command_id)


async def run_pools(
    broker: SecuredBroker, keyring: Keyring, stop: asyncio.Event
) -> dict[str, asyncio.Task[None]]:
    """The pools as ``connmgr worker <pool>`` runs them: shipped users, sealed secrets
    required, loopback refused (the settings' defaults)."""
    tasks = {}
    for name in RUNNING_POOLS:
        watched = await broker.pool(name)
        resources = Resources(watched.nc, broker.engine, keyring)
        loop = await start_pool(name, broker.settings, resources)
        tasks[name] = asyncio.create_task(loop(stop), name=f"pool-{name}")
    return tasks


async def provision(broker: SecuredBroker, tenant: str) -> Watched:
    token = await issue_token(broker.engine, "producer", tenant, [SCOPE_COMMANDS_WRITE, "read"])
    return await broker.tenant(tenant, token)


async def victim_state(broker: SecuredBroker, victim: Watched) -> Victim:
    producer = Producer(victim.nc, tenant=VICTIM, actor_id="victim")
    await producer.start()
    created = await producer.create(
        ConnectionSpec(
            name="payments-db",
            kind="postgres",
            config={"host": "db.internal", "port": 5432, "database": "payments", "ssl": "require"},
            auth={"method": "basic", "username": "app"},
            secrets={"password": SECRET},
            tags=["prod"],
        )
    )
    assert created.outcome == "accepted", created
    assert created.connection_id is not None
    connection_id = str(created.connection_id)
    updated = await producer.update(
        connection_id, ConnectionChanges(description=VICTIM_DESCRIPTION)
    )
    assert updated.outcome == "accepted", updated
    await producer.stop()
    # A command that stays queued (no prober runs): what a purge or rollup would wipe.
    check = command("check", connection_id, {}, tenant=VICTIM)
    await victim.nc.jetstream().publish(
        command_subject(VICTIM, "check", connection_id),
        encode(check),
        headers={MSG_ID_HEADER: check["command_id"]},
    )
    return Victim(connection_id, created, updated)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("broker-boundary")
    async with (
        temporary_postgres_database() as url,
        migrated_engine(url) as engine,
        AsyncExitStack() as exits,
    ):
        broker = await SecuredBroker.start(folder / "nats", engine, exits)
        keyring = Keyring.generate()
        stop = asyncio.Event()
        pools = await run_pools(broker, keyring, stop)
        try:
            victim = await provision(broker, VICTIM)
            victim_inbox: list[Msg] = []

            async def overheard(message: Msg) -> None:
                victim_inbox.append(message)

            await victim.nc.subscribe(f"{tenant_inbox_prefix(VICTIM)}.>", cb=overheard)
            attacker = await provision(broker, ATTACKER)
            attacker_producer = Producer(attacker.nc, tenant=ATTACKER, actor_id="mallory")
            await attacker_producer.start()
            yield Stack(
                broker,
                engine,
                keyring,
                attacker,
                attacker_producer,
                await victim_state(broker, victim),
                victim_inbox,
                pools,
                await broker.operator(),
            )
        finally:
            stop.set()
            await asyncio.gather(*pools.values(), return_exceptions=True)


# --- the attacks ------------------------------------------------------------------
# Each makes one attack as tenant a and proves it was refused.

Attack = Callable[[Stack], Awaitable[None]]


def own_subject(verb: str = "create") -> str:
    return command_subject(ATTACKER, verb, str(uuid.uuid4()))


def victim_delete(stack: Stack) -> dict[str, Any]:
    """The command item 1 forged: a delete of b's connection naming b as its actor."""
    document = command("delete", stack.victim.connection_id, {}, tenant=VICTIM)
    document["actor"] = {"id": "mallory", "tenant": VICTIM}
    return document


async def publish_refused_by_stream(stack: Stack, headers: dict[str, str], err_code: int) -> None:
    """A JetStream publish on a's own subject that the command stream refuses."""
    js = stack.attacker.nc.jetstream()
    body = encode(victim_delete(stack))
    with pytest.raises(nats.js.errors.APIError) as refusal:
        await js.publish(own_subject(), body, headers={MSG_ID_HEADER: str(uuid.uuid4()), **headers})
    assert refusal.value.err_code == err_code, vars(refusal.value)


async def forged_schedule(stack: Stack) -> None:
    at = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    target = command_subject(VICTIM, "delete", stack.victim.connection_id)
    await publish_refused_by_stream(
        stack,
        {"Nats-Schedule": f"@at {at}", "Nats-Schedule-Target": target},
        SCHEDULES_DISABLED,
    )


async def rollup_all(stack: Stack) -> None:
    await publish_refused_by_stream(stack, {"Nats-Rollup": "all"}, ROLLUP_NOT_PERMITTED)


def publish_refused(subject: str, body: bytes = b"{}") -> Attack:
    async def attack(stack: Stack) -> None:
        await stack.attacker.nc.publish(subject, body)
        await refused(stack.attacker, subject)

    return attack


def subscribe_refused(subject: str) -> Attack:
    async def attack(stack: Stack) -> None:
        received: list[Msg] = []

        async def heard(message: Msg) -> None:
            received.append(message)

        await stack.attacker.nc.subscribe(subject, cb=heard)
        await refused(stack.attacker, subject)
        await stack.caught_up()  # traffic a's subscription would have heard
        assert [m.subject for m in received if not m.subject.startswith(own_inbox())] == []

    return attack


def own_inbox() -> str:
    return f"{tenant_inbox_prefix(ATTACKER)}."


def victim_publish(verb: str) -> Attack:
    async def attack(stack: Stack) -> None:
        subject = command_subject(VICTIM, verb, stack.victim.connection_id)
        document = victim_delete(stack) | {"type": verb}
        await publish_refused(subject, encode(document))(stack)

    return attack


def own_create() -> dict[str, Any]:
    """A valid create of a's, built by hand (no secrets: none needed for auth none)."""
    payload = postgres_payload(auth={"method": "none"})
    return command("create", str(uuid.uuid4()), payload, tenant=ATTACKER)


def reply_to_elsewhere(reply_to: Callable[[Stack], str]) -> Attack:
    async def attack(stack: Stack) -> None:
        document = own_create()
        document["reply_to"] = reply_to(stack)
        await stack.attacker.nc.jetstream().publish(
            command_subject(ATTACKER, "create", document["connection_id"]),
            encode(document),
            headers={MSG_ID_HEADER: str(uuid.uuid4())},
        )
        await stack.caught_up()
        recorded = await wait_for(lambda: stack.outcome_of(document["command_id"]))
        assert recorded is not None
        assert (recorded.outcome, recorded.reason) == ("rejected", Reason.INVALID_REPLY_TO)
        leaked = [m for m in stack.victim_inbox if document["command_id"].encode() in m.data]
        assert leaked == []

    return attack


async def replay(stack: Stack, document: dict[str, Any], reason: Reason) -> None:
    """Send ``document`` (which reuses one of b's command ids) on a's subject with a fresh
    ``Nats-Msg-Id``: a gets a rejection of its own, never b's recorded outcome."""
    answer = await request_as(stack.attacker.nc, ATTACKER, document)
    reply = CommandOutcome.model_validate(answer)
    assert (reply.outcome, reply.reason) == ("rejected", reason), reply
    assert reply not in (stack.victim.created, stack.victim.updated)
    assert (reply.version, reply.events, reply.result) == (None, ["CommandRejected"], None)


async def replay_victims_create_as_own(stack: Stack) -> None:
    """Item 5: b's create (its sealed secret too) under b's command id, actor rewritten to a."""
    victim = stack.victim
    key = stack.keyring.seal_public_info()
    payload = postgres_payload(secrets=sealed({"password": SECRET}, key, victim.connection_id))
    document = command(
        "create",
        victim.connection_id,
        payload,
        tenant=ATTACKER,
        command_id=str(victim.created.command_id),
    )
    await replay(stack, document, Reason.ID_UNAVAILABLE)


async def replay_victims_update_verbatim(stack: Stack) -> None:
    """Item 5: b's update exactly as b sent it (actor tenant b), on a's subject."""
    victim = stack.victim
    document = command(
        "update",
        victim.connection_id,
        {"description": VICTIM_DESCRIPTION},
        tenant=VICTIM,
        command_id=str(victim.updated.command_id),
    )
    await replay(stack, document, Reason.TENANT_MISMATCH)


async def trace_to_victim(stack: Stack) -> None:
    document = own_create()
    victim = command_subject(VICTIM, "delete", stack.victim.connection_id)
    await stack.attacker.nc.publish(
        command_subject(ATTACKER, "create", document["connection_id"]),
        encode(document),
        headers={MSG_ID_HEADER: str(uuid.uuid4()), "Nats-Trace-Dest": victim},
    )
    await refused(stack.attacker, victim)
    await stack.caught_up()
    # the server dropped the whole message: had it been stored, the drained encryptor
    # would have recorded its rejection (control_headers)
    assert await stack.outcome_of(document["command_id"]) is None


JS = "$JS.API"
ATTACKS: dict[str, Attack] = {
    # item 1: a forged command through a message schedule aimed at b's delete subject
    "schedule-at-victim-delete": forged_schedule,
    "schedule-stream-write": publish_refused(schedule_subject(VICTIM, "victim")),
    "probe-stream-write": publish_refused(probe_subject(VICTIM, "victim")),
    # item 2: a rollup purging every queue
    "rollup-all-on-own-subject": rollup_all,
    # item 3: reading through inboxes, and b's subjects
    "subscribe-all-inboxes": subscribe_refused("_INBOX.>"),
    "subscribe-victim-inbox": subscribe_refused(f"{tenant_inbox_prefix(VICTIM)}.>"),
    "subscribe-victim-gateway-inbox": subscribe_refused(f"{gateway_inbox_prefix(VICTIM)}.>"),
    "subscribe-encryptor-inbox": subscribe_refused(f"{pool_inbox_prefix('encryptor')}.>"),
    "subscribe-victim-events": subscribe_refused(tenant_event_filter(VICTIM)),
    "subscribe-all-events": subscribe_refused("connmgr.evt.>"),
    "subscribe-victim-commands": subscribe_refused(tenant_command_subjects(VICTIM)),
    "subscribe-all-commands": subscribe_refused("connmgr.>"),
    "pull-encryptor-batch": publish_refused(
        f"{JS}.CONSUMER.MSG.NEXT.{COMMAND_STREAM}.{ENCRYPTOR_CONSUMER.durable}"
    ),
    "read-command-stream": publish_refused(f"{JS}.STREAM.MSG.GET.{COMMAND_STREAM}"),
    "consumer-on-command-stream": publish_refused(
        f"{JS}.CONSUMER.CREATE.{COMMAND_STREAM}.spy.{tenant_command_subjects(VICTIM)}"
    ),
    # publishing on b's command, event and inbox subjects
    **{f"publish-victim-{verb}": victim_publish(verb) for verb in ("delete", "update", "rotate")},
    "publish-victim-event": publish_refused(
        event_subject(VICTIM, str(uuid.uuid4()), "ConnectionDeleted")
    ),
    "publish-victim-inbox": publish_refused(f"{tenant_inbox_prefix(VICTIM)}.forged"),
    "publish-encryptor-inbox": publish_refused(f"{pool_inbox_prefix('encryptor')}.x"),
    # item 4: a reply_to naming a pool's inbox or b's
    "reply-to-encryptor-inbox": reply_to_elsewhere(lambda _: f"{pool_inbox_prefix('encryptor')}.x"),
    "reply-to-victim-inbox": reply_to_elsewhere(lambda _: f"{tenant_inbox_prefix(VICTIM)}.stolen"),
    # item 5: command-id replay
    "replay-victim-create-id-as-own": replay_victims_create_as_own,
    "replay-victim-update-verbatim": replay_victims_update_verbatim,
    # the seal key
    "write-seal-key": publish_refused(f"$KV.{KEYS_BUCKET}.{SEAL_KEY_ENTRY}", b'{"key_id":"m"}'),
    "purge-keys-bucket": publish_refused(f"{JS}.STREAM.PURGE.KV_{KEYS_BUCKET}"),
    "delete-seal-key-message": publish_refused(f"{JS}.STREAM.MSG.DELETE.KV_{KEYS_BUCKET}"),
    # streams and the pools' consumers
    **{
        f"{verb.lower()}-stream-{stream}": publish_refused(f"{JS}.STREAM.{verb}.{stream}")
        for stream in STREAMS
        for verb in ("DELETE", "PURGE", "UPDATE")
    },
    "delete-victim-queued-command": publish_refused(f"{JS}.STREAM.MSG.DELETE.{COMMAND_STREAM}"),
    **{
        f"delete-consumer-{stream}-{spec.durable}": publish_refused(
            f"{JS}.CONSUMER.DELETE.{stream}.{spec.durable}"
        )
        for stream, spec in ALL_DURABLES
    },
    **{
        f"take-over-consumer-{spec.durable}": publish_refused(
            f"{JS}.CONSUMER.DURABLE.CREATE.{COMMAND_STREAM}.{spec.durable}"
        )
        for spec in (ENCRYPTOR_CONSUMER, TESTER_CONSUMER, PROBER_CONSUMER)
    },
    # Nats-Trace-Dest: a trace event landing on b's command subject
    "trace-dest-victim-command": trace_to_victim,
}


@pytest.fixture(scope="module")
async def victim_before(stack: Stack) -> dict[str, Any]:
    state = await stack.snapshot()
    assert len(state["connection"]) == 1
    assert state["connection"][0]["description"] == VICTIM_DESCRIPTION
    assert len(state["data_key"]) == 1
    assert [row["type"] for row in state["events"]] == ["ConnectionCreated", "ConnectionUpdated"]
    assert all(row["hash"] for row in state["events"])
    assert state["queued"] == {command_subject(VICTIM, "check", stack.victim.connection_id): 1}, (
        state["queued"]
    )
    return state


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_the_attack_is_refused_and_the_victim_is_unchanged(
    stack: Stack, victim_before: dict[str, Any], name: str
) -> None:
    stack.attacker.errors.clear()
    await ATTACKS[name](stack)

    await stack.caught_up()
    assert await stack.snapshot() == victim_before
    await stack.everything_exists()
    assert not any(task.done() for task in stack.pools.values()), stack.pools
    assert stack.attacker.nc.is_connected
