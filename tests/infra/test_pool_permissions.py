"""Each pool runs with exactly the permissions ``infra/nats/accounts.conf`` ships, and is
refused everything else.

The first test runs every pool as its shipped
users (``connect_nats``, as ``connmgr worker <pool>`` does), after the operator
declared the streams; a tenant provisioned through the auth callout creates and
tests a connection and reads its event. The server's log must then hold no
permission violation at all: the shipped lists are enough. The second shows,
per pool, a sample of what it must not do, each refused by the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import nats.errors
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.producers.client import Producer
from connmgr.runtime.admin import run_streams_ensure
from connmgr.runtime.dlq import run_dlq_ls
from connmgr.runtime.pool_startup import Resources, start_pool
from connmgr.schemas.bus.inboxes import OPERATOR_INBOX_PREFIX
from connmgr.schemas.bus.streams import COMMAND_STREAM, EVENT_STREAM, KEYS_BUCKET, SEAL_KEY_ENTRY
from connmgr.schemas.connection_spec import ConnectionSpec
from connmgr.schemas.identities import event_consumer_slot, tenant_event_filter
from connmgr.storage.tokens import SCOPE_COMMANDS_WRITE, issue_token
from connmgr.workers.keyring import Keyring
from support.secured_broker import PASSWORDS, SecuredBroker, refused, running_broker
from support.waiting import DELIVERY_TIMEOUT_S

RUNNING_POOLS = ("encryptor", "relay", "tester", "prober", "notifier")


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[SecuredBroker]:
    async with running_broker(tmp_path) as broker:
        yield broker


async def run_pools(
    broker: SecuredBroker, engine: AsyncEngine, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    keyring = Keyring.generate()
    settings = broker.settings.model_copy(update={"egress_allow_loopback": True})
    tasks = []
    for name in RUNNING_POOLS:
        watched = await broker.pool(name)
        loop = await start_pool(name, settings, Resources(watched.nc, engine, keyring))
        tasks.append(asyncio.create_task(loop(stop)))
    return tasks


async def test_the_pools_run_on_their_shipped_permissions_alone(broker: SecuredBroker) -> None:
    stop = asyncio.Event()
    tasks = await run_pools(broker, broker.engine, stop)
    token = await issue_token(broker.engine, "producer", "a", [SCOPE_COMMANDS_WRITE, "read"])
    tenant = await broker.tenant("a", token)
    events = await tenant.nc.subscribe(tenant_event_filter("a"))
    await tenant.nc.flush()
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        producer = Producer(tenant.nc, tenant="a", actor_id="ops")
        await producer.start()
        target = {"host": "127.0.0.1", "port": listener.getsockname()[1]}
        created = await producer.create(ConnectionSpec(name="target", kind="tcp", config=target))
        assert created.outcome == "accepted", created
        tested = await producer.test(created.connection_id)
        assert tested.outcome == "accepted", tested
        first = await events.next_msg(timeout=DELIVERY_TIMEOUT_S)
        assert first.subject.endswith(".ConnectionCreated")
        assert json.loads(first.data)
        await producer.stop()
    finally:
        listener.close()
        stop.set()
        await asyncio.gather(*tasks)
    log = broker.server.log_path.read_text()
    assert "Violation" not in log, [line for line in log.splitlines() if "Violation" in line]


FORBIDDEN_TO_EVERY_POOL = (
    f"$JS.API.STREAM.DELETE.{COMMAND_STREAM}",
    f"$JS.API.STREAM.PURGE.{COMMAND_STREAM}",
    f"$JS.API.STREAM.PURGE.{EVENT_STREAM}",
    f"$JS.API.STREAM.UPDATE.{COMMAND_STREAM}",
    "$JS.API.STREAM.CREATE.MALLORY",
    f"$JS.API.CONSUMER.DELETE.{COMMAND_STREAM}.encryptor",
    f"$JS.API.CONSUMER.MSG.NEXT.{EVENT_STREAM}.{event_consumer_slot('a', 1)}",
    "$JS.API.ACCOUNT.INFO",
    "connmgr.cmd.a.delete.c1",
)
ANOTHER_POOLS_DURABLE = {
    "encryptor": f"$JS.API.CONSUMER.MSG.NEXT.{COMMAND_STREAM}.tester",
    "tester": f"$JS.API.CONSUMER.MSG.NEXT.{COMMAND_STREAM}.encryptor",
    "prober": f"$JS.API.CONSUMER.MSG.NEXT.{EVENT_STREAM}.notifier",
    "relay": f"$JS.API.CONSUMER.MSG.NEXT.{COMMAND_STREAM}.encryptor",
    "notifier": f"$JS.API.CONSUMER.MSG.NEXT.{EVENT_STREAM}.schedule-keeper",
}


@pytest.mark.parametrize("pool", ["encryptor", "tester", "prober", "relay", "notifier"])
async def test_each_pool_is_refused_what_it_does_not_use(broker: SecuredBroker, pool: str) -> None:
    watched = await broker.pool(pool)
    info = await watched.nc.jetstream().stream_info(COMMAND_STREAM)
    assert info.config.name == COMMAND_STREAM  # positive control: its stream reads work

    publish = [*FORBIDDEN_TO_EVERY_POOL, ANOTHER_POOLS_DURABLE[pool]]
    if pool != "encryptor":
        publish.append(f"$KV.{KEYS_BUCKET}.{SEAL_KEY_ENTRY}")
    if pool != "relay":
        publish.append("connmgr.evt.a.c1.ConnectionDeleted")
    for subject in publish:
        await watched.nc.publish(subject, b"{}")
        await refused(watched, subject)
    others = [name for name in ANOTHER_POOLS_DURABLE if name != pool]
    for subject in ("_INBOX.>", f"_INBOX.pool.{others[0]}.>", "_INBOX.tenant.a.>", "connmgr.>"):
        await watched.nc.subscribe(subject)
        await refused(watched, subject)


async def test_the_operator_runs_streams_ensure_and_dlq_and_a_pool_cannot(
    broker: SecuredBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    no_args = argparse.Namespace(replicas=None)
    assert await run_streams_ensure(broker.settings, no_args) == 0
    assert await run_dlq_ls(broker.settings, no_args) == 0
    assert "streams: ready" in capsys.readouterr().out

    pool_settings = broker.settings.model_copy(
        update={
            "nats_operator_user": "relay",
            "nats_operator_password": SecretStr(PASSWORDS["CONNMGR_NATS_RELAY_PASSWORD"]),
        }
    )
    with pytest.raises(nats.errors.TimeoutError):
        await run_dlq_ls(pool_settings, no_args)
    # The timeout is the server's refusal (the relay may not hear the operator's
    # inbox), not a slow server or a missing stream; the operator's run had none.
    log = broker.server.log_path.read_text()
    violations = [line for line in log.splitlines() if "Violation" in line]
    refusal = f'"CONNMGR/user:relay" - Subscription Violation - Subject "{OPERATOR_INBOX_PREFIX}.'
    assert violations, log
    assert all(refusal in line for line in violations), violations
