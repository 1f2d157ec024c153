"""The shipped NATS configuration: valid, durable, and every tenant confined to its own subjects.

Two tenants, ``a`` and ``b``, are provisioned the documented way (tokens in the
token store; the auth-callout service running; nothing edited in the config).
Each refusal follows a positive control in the same setup, so that "refused"
cannot come from a typo or a missing stream.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
import pytest
import yaml
from nats.js.api import ConsumerConfig
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.nats_server import wheel_binary
from connmgr.schemas.bus.streams import COMMAND_STREAM, EVENT_STREAM, KEYS_BUCKET, SEAL_KEY_ENTRY
from connmgr.schemas.bus.subjects import command_subject, event_subject
from connmgr.schemas.identities import event_consumer_slot, tenant_event_filter
from connmgr.storage.tokens import (
    SCOPE_COMMANDS_WRITE,
    issue_operator_token,
    issue_token,
    revoke_token,
)
from support.broker_tls import BrokerTls
from support.secured_broker import (
    INFRA,
    SecuredBroker,
    Watched,
    refused,
    running_broker,
)
from support.shipped_nats import server_env
from support.waiting import DELIVERY_TIMEOUT_S, wait_for

API_TIMEOUT_S = 5.0


CONFIG_FILES = sorted(p.name for p in INFRA.iterdir() if p.name != "kustomization.yaml")


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_every_shipped_file_passes_nats_server_t(name: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(wheel_binary()), "-t", "-c", str(INFRA / name)],
        env=server_env(BrokerTls.make(tmp_path)),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stderr


def test_the_kubernetes_configmap_carries_every_configuration_file() -> None:
    """infra/nats/kustomization.yaml is the one file of the folder that is not a
    server configuration: it ships all the others to infra/k8s."""
    kustomization = yaml.safe_load((INFRA / "kustomization.yaml").read_text())
    (generator,) = kustomization["configMapGenerator"]
    assert sorted(generator["files"]) == CONFIG_FILES
    assert all(name.endswith(".conf") for name in CONFIG_FILES)


def test_a_single_node_syncs_every_write() -> None:
    lines = [
        line.split("#")[0].strip() for line in (INFRA / "nats-server.conf").read_text().splitlines()
    ]
    assert "sync_interval: always" in lines


@dataclass
class Tenants:
    broker: SecuredBroker
    engine: AsyncEngine
    a: Watched
    b: Watched
    a_token: str
    relay: Watched


@pytest.fixture
async def tenants(tmp_path: Path) -> AsyncIterator[Tenants]:
    async with running_broker(tmp_path) as broker:
        engine = broker.engine
        a_token = await issue_token(engine, "producer", "a", [SCOPE_COMMANDS_WRITE, "read"])
        b_token = await issue_token(engine, "producer", "b", [SCOPE_COMMANDS_WRITE, "read"])
        relay = await broker.pool("relay")
        for tenant in ("a", "b"):
            await relay.nc.jetstream().publish(
                event_subject(tenant, str(uuid.uuid4()), "ConnectionCreated"),
                json.dumps({"tenant": tenant}).encode(),
            )
        yield Tenants(
            broker,
            engine,
            await broker.tenant("a", a_token),
            await broker.tenant("b", b_token),
            a_token,
            relay,
        )


async def messages_in(tenants: Tenants, stream: str) -> int:
    operator = await tenants.broker.operator()
    return (await operator.nc.jetstream().stream_info(stream)).state.messages


async def test_a_tenant_publishes_commands_only_under_its_own_tenant(tenants: Tenants) -> None:
    js = tenants.a.nc.jetstream()
    own = command_subject("a", "create", str(uuid.uuid4()))
    assert (await js.publish(own, b"{}")).stream == COMMAND_STREAM

    other = command_subject("b", "delete", str(uuid.uuid4()))
    with pytest.raises(nats.errors.TimeoutError):
        await js.publish(other, b"{}", timeout=1)
    await refused(tenants.a, other)
    assert await messages_in(tenants, COMMAND_STREAM) == 1


async def test_a_tenant_reads_its_own_events_durably_and_never_another_tenants(
    tenants: Tenants,
) -> None:
    """Found item 3: another tenant's events are refused, after reading one's own."""
    js = tenants.a.nc.jetstream()
    slot = event_consumer_slot("a", 1)
    config = ConsumerConfig(name=slot, durable_name=slot, filter_subject=tenant_event_filter("a"))
    await js.add_consumer(EVENT_STREAM, config)
    (own,) = await (await js.pull_subscribe_bind(slot, EVENT_STREAM)).fetch(1, timeout=5)
    assert json.loads(own.data) == {"tenant": "a"}
    await own.ack()

    other = ConsumerConfig(name=slot, durable_name=slot, filter_subject=tenant_event_filter("b"))
    with pytest.raises(nats.errors.TimeoutError):
        await js.add_consumer(EVENT_STREAM, other, timeout=1)
    await refused(tenants.a, f"$JS.API.CONSUMER.CREATE.{EVENT_STREAM}.{slot}.connmgr.evt.b.>")
    b_slot = event_consumer_slot("b", 1)
    for subject in (
        f"$JS.API.CONSUMER.CREATE.{EVENT_STREAM}.{b_slot}.connmgr.evt.b.>",
        f"$JS.API.CONSUMER.CREATE.{EVENT_STREAM}.{slot}",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{EVENT_STREAM}.{slot}",
        f"$JS.API.CONSUMER.CREATE.{EVENT_STREAM}",
        f"$JS.API.STREAM.MSG.GET.{EVENT_STREAM}",
        f"$JS.API.DIRECT.GET.{EVENT_STREAM}",
        f"$JS.API.DIRECT.GET.{EVENT_STREAM}.{event_subject('b', 'c1', 'ConnectionCreated')}",
        f"$JS.API.STREAM.INFO.{EVENT_STREAM}",  # its subjects filter lists b's connections
        f"$JS.API.CONSUMER.LIST.{EVENT_STREAM}",
        f"$JS.API.CONSUMER.NAMES.{EVENT_STREAM}",
        "$JS.API.STREAM.LIST",
    ):
        await tenants.a.nc.publish(subject, b"{}")
        await refused(tenants.a, subject)


async def test_a_slot_create_whose_body_names_another_filter_is_refused_by_the_server(
    tenants: Tenants,
) -> None:
    slot = event_consumer_slot("a", 2)
    subject = f"$JS.API.CONSUMER.CREATE.{EVENT_STREAM}.{slot}.{tenant_event_filter('a')}"

    async def create(config: dict[str, object]) -> dict[str, object]:
        body = {"stream_name": EVENT_STREAM, "config": {"name": slot, **config}}
        reply = await tenants.a.nc.request(subject, json.dumps(body).encode(), timeout=5)
        return dict(json.loads(reply.data))

    own = await create({"filter_subject": tenant_event_filter("a"), "ack_policy": "explicit"})
    assert own.get("name") == slot
    await tenants.a.nc.jetstream().delete_consumer(EVENT_STREAM, slot)

    mismatch = await create({"filter_subject": tenant_event_filter("b")})
    assert mismatch["error"]["err_code"] == 10131  # type: ignore[index]
    multiple = await create({"filter_subjects": [tenant_event_filter("a"), "connmgr.evt.b.>"]})
    assert multiple["error"]["err_code"] == 10137  # type: ignore[index]


async def test_a_tenant_subscribes_to_its_own_live_events_and_inbox_only(
    tenants: Tenants,
) -> None:
    own = await tenants.a.nc.subscribe(tenant_event_filter("a"))
    inbox = await tenants.a.nc.subscribe(tenants.a.nc.new_inbox())
    await tenants.a.nc.flush()
    await tenants.relay.nc.jetstream().publish(event_subject("a", "c1", "ConnectionDeleted"), b"1")
    assert (await own.next_msg(timeout=DELIVERY_TIMEOUT_S)).data == b"1"
    assert inbox.subject.startswith("_INBOX.tenant.a.")

    for subject in (
        tenant_event_filter("b"),
        "connmgr.evt.>",
        "_INBOX.>",
        "_INBOX.tenant.b.>",
        "_INBOX.gateway.b.>",
        "_INBOX.pool.encryptor.>",
        "connmgr.cmd.>",
        "connmgr.cmd.b.>",
    ):
        await tenants.a.nc.subscribe(subject)
        await refused(tenants.a, subject)


async def test_a_tenant_reads_the_seal_key_and_cannot_write_it(tenants: Tenants) -> None:
    encryptor = await tenants.broker.pool("encryptor")
    bucket = await encryptor.nc.jetstream().key_value(KEYS_BUCKET)
    await bucket.put(SEAL_KEY_ENTRY, b'{"key_id": "k1"}')

    read = await (await tenants.a.nc.jetstream().key_value(KEYS_BUCKET)).get(SEAL_KEY_ENTRY)
    assert read.value == b'{"key_id": "k1"}'

    subject = f"$KV.{KEYS_BUCKET}.{SEAL_KEY_ENTRY}"
    await tenants.a.nc.publish(subject, b'{"key_id": "mallory"}')
    await refused(tenants.a, subject)
    operator = await tenants.broker.operator()
    kept = await (await operator.nc.jetstream().key_value(KEYS_BUCKET)).get(SEAL_KEY_ENTRY)
    assert kept.value == b'{"key_id": "k1"}'


async def test_a_tenant_deletes_its_own_slot_and_nothing_else(tenants: Tenants) -> None:
    js = tenants.a.nc.jetstream()
    slot = event_consumer_slot("a", 1)
    await js.add_consumer(
        EVENT_STREAM,
        ConsumerConfig(name=slot, durable_name=slot, filter_subject=tenant_event_filter("a")),
    )
    assert await js.delete_consumer(EVENT_STREAM, slot)

    pool_durables = ("encryptor", "tester", "prober")
    for subject in (
        *(f"$JS.API.STREAM.{verb}.{COMMAND_STREAM}" for verb in ("DELETE", "PURGE", "UPDATE")),
        f"$JS.API.STREAM.DELETE.{EVENT_STREAM}",
        f"$JS.API.STREAM.DELETE.KV_{KEYS_BUCKET}",
        f"$JS.API.STREAM.CREATE.{uuid.uuid4().hex}",
        *(f"$JS.API.CONSUMER.DELETE.{COMMAND_STREAM}.{d}" for d in pool_durables),
        f"$JS.API.CONSUMER.DELETE.{EVENT_STREAM}.notifier",
        f"$JS.API.CONSUMER.DELETE.{EVENT_STREAM}.{event_consumer_slot('b', 1)}",
        f"$JS.API.STREAM.MSG.DELETE.{COMMAND_STREAM}",
    ):
        await tenants.a.nc.publish(subject, b"{}")
        await refused(tenants.a, subject)


async def test_another_tenants_slots_and_the_pools_durables_are_out_of_reach(
    tenants: Tenants,
) -> None:
    b_js = tenants.b.nc.jetstream()
    b_slot = event_consumer_slot("b", 1)
    await b_js.add_consumer(
        EVENT_STREAM,
        ConsumerConfig(name=b_slot, durable_name=b_slot, filter_subject=tenant_event_filter("b")),
    )
    assert (await b_js.consumer_info(EVENT_STREAM, b_slot)).name == b_slot

    for subject in (
        f"$JS.API.CONSUMER.INFO.{EVENT_STREAM}.{b_slot}",
        f"$JS.API.CONSUMER.MSG.NEXT.{EVENT_STREAM}.{b_slot}",
        f"$JS.ACK.{EVENT_STREAM}.{b_slot}.1.1.1.0.0",
        f"$JS.API.CONSUMER.MSG.NEXT.{COMMAND_STREAM}.encryptor",
        f"$JS.ACK.{COMMAND_STREAM}.encryptor.1.1.1.0.0",
        f"$JS.API.CONSUMER.MSG.NEXT.{EVENT_STREAM}.notifier",
        f"$JS.API.CONSUMER.MSG.NEXT.{EVENT_STREAM}.schedule-keeper",
        f"$JS.API.CONSUMER.INFO.{COMMAND_STREAM}.tester",
        f"$JS.API.CONSUMER.MSG.NEXT.{EVENT_STREAM}.{event_consumer_slot('a', 3)}",
    ):
        await tenants.a.nc.publish(subject, b"{}")
        await refused(tenants.a, subject)


async def test_a_gateway_publishes_for_its_tokens_tenant_only(tenants: Tenants) -> None:
    gateway = await tenants.broker.gateway("a", tenants.a_token)
    js = gateway.nc.jetstream()
    assert (await js.publish(command_subject("a", "test", "c1"), b"{}")).seq >= 1
    assert gateway.nc.new_inbox().startswith("_INBOX.gateway.a.")

    for subject in (command_subject("b", "create", "c2"), "$JS.API.INFO", "connmgr.evt.a.c.X"):
        await gateway.nc.publish(subject, b"{}")
        await refused(gateway, subject)
    for subject in ("_INBOX.gateway.b.>", "_INBOX.tenant.a.>", tenant_event_filter("a")):
        await gateway.nc.subscribe(subject)
        await refused(gateway, subject)


@pytest.mark.parametrize(
    "credentials",
    [
        {"token": "cm_not-a-token"},
        {"token": "not even shaped like one"},
        {"user": "encryptor", "password": "wrong"},
        {"user": "tenant-a", "password": "anything"},
        {},
    ],
    ids=["unknown-token", "malformed-token", "pool-wrong-password", "unknown-user", "none"],
)
async def test_a_client_without_a_valid_credential_is_refused(
    tenants: Tenants, credentials: dict[str, str]
) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(
            tenants.broker.server.url,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            **credentials,
        )


async def test_operator_and_tenant_read_only_tokens_get_what_their_scopes_say(
    tenants: Tenants,
) -> None:
    operator_token = await issue_operator_token(tenants.engine, "scraper")
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(tenants.broker.server.url, token=operator_token, allow_reconnect=False)
    reader_token = await issue_token(tenants.engine, "dash", "a", ["read"])
    reader = await tenants.broker.tenant("a", reader_token)
    own = await reader.nc.subscribe(tenant_event_filter("a"))
    await reader.nc.flush()
    assert own.subject == tenant_event_filter("a")
    subject = command_subject("a", "create", "c3")
    await reader.nc.publish(subject, b"{}")
    await refused(reader, subject)


async def test_a_revoked_token_stops_working_when_its_credential_expires(tmp_path: Path) -> None:
    async with running_broker(tmp_path, ttl_s=2) as broker:
        engine = broker.engine
        token = await issue_token(engine, "producer", "a", [SCOPE_COMMANDS_WRITE])
        client = await broker.tenant("a", token)
        assert client.nc.is_connected
        assert await revoke_token(engine, token)

        await wait_for(lambda: client.nc.is_closed, message="the expired connection closed")
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(broker.server.url, token=token, allow_reconnect=False)


async def test_a_push_slot_aimed_at_another_tenant_stores_nothing_there(tenants: Tenants) -> None:
    """Permissions cannot see a create body's deliver subject, so the server accepts a
    push slot; on nats-server 2.15.1 it delivers only to literal subscriptions, which
    another tenant's command stream and inboxes are not (see docs/decisions.md)."""
    slot, control = event_consumer_slot("a", 1), event_consumer_slot("a", 2)
    own_inbox = tenants.a.nc.new_inbox()
    delivered = await tenants.a.nc.subscribe(own_inbox)
    victim = command_subject("b", "delete", str(uuid.uuid4()))
    for name, deliver in ((slot, victim), (control, own_inbox)):
        subject = f"$JS.API.CONSUMER.CREATE.{EVENT_STREAM}.{name}.{tenant_event_filter('a')}"
        config = {"name": name, "filter_subject": tenant_event_filter("a")}
        body = {"stream_name": EVENT_STREAM, "config": {**config, "deliver_subject": deliver}}
        reply = await tenants.a.nc.request(subject, json.dumps(body).encode(), timeout=5)
        assert json.loads(reply.data).get("name") == name

    # positive control: the same kind of consumer delivers a's event to a's own inbox
    message = await delivered.next_msg(timeout=DELIVERY_TIMEOUT_S)
    assert json.loads(message.data) == {"tenant": "a"}
    assert await messages_in(tenants, COMMAND_STREAM) == 0
