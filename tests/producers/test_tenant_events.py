"""``TenantEvents``: a tenant reads its own events over NATS, live and durably, on the
shipped broker configuration, and nothing of another tenant's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import nats.errors
import pytest

from connmgr.producers.events import TenantEvents
from connmgr.schemas.bus.subjects import event_subject
from connmgr.storage.tokens import issue_token
from support.secured_broker import SecuredBroker, Watched, refused, running_broker
from support.waiting import DELIVERY_TIMEOUT_S


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[SecuredBroker]:
    async with running_broker(tmp_path) as broker:
        yield broker


async def reader(broker: SecuredBroker, tenant: str) -> Watched:
    token = await issue_token(broker.engine, "dashboard", tenant, ["events:read"])
    return await broker.tenant(tenant, token)


async def publish_events(broker: SecuredBroker, *tenants: str) -> None:
    relay = await broker.pool("relay")
    for tenant in tenants:
        subject = event_subject(tenant, "c1", "ConnectionCreated")
        await relay.nc.jetstream().publish(subject, json.dumps({"tenant": tenant}).encode())


async def test_a_durable_slot_reads_the_tenants_events_and_resumes_after_its_ack(
    broker: SecuredBroker,
) -> None:
    await publish_events(broker, "b", "a", "a")
    client = await reader(broker, "a")
    events = TenantEvents(client.nc, tenant="a")

    first = await (await events.durable(1)).fetch(1, timeout=5)
    assert [json.loads(m.data)["tenant"] for m in first] == ["a"]
    await first[0].ack_sync()
    again = await (await events.durable(1)).fetch(5, timeout=2)
    assert [json.loads(m.data)["tenant"] for m in again] == ["a"]
    assert await events.forget(1)


async def test_live_events_are_the_tenants_own(broker: SecuredBroker) -> None:
    client = await reader(broker, "a")
    live = await TenantEvents(client.nc, tenant="a").live()
    await publish_events(broker, "b", "a")

    message = await live.next_msg(timeout=DELIVERY_TIMEOUT_S)
    assert json.loads(message.data) == {"tenant": "a"}
    assert message.subject.startswith("connmgr.evt.a.")


async def test_a_slot_beyond_the_limit_or_another_tenants_is_refused(
    broker: SecuredBroker,
) -> None:
    client = await reader(broker, "a")
    assert await TenantEvents(client.nc, tenant="a").durable(2)  # the broker's last slot

    with pytest.raises(nats.errors.TimeoutError):
        await TenantEvents(client.nc, tenant="a").durable(3)
    await refused(client, "$JS.API.CONSUMER.CREATE.CONNMGR_EVT.a-evt-3.connmgr.evt.a.>")
    with pytest.raises(nats.errors.TimeoutError):
        await TenantEvents(client.nc, tenant="b").durable(1)
    await refused(client, "$JS.API.CONSUMER.CREATE.CONNMGR_EVT.b-evt-1.connmgr.evt.b.>")


async def test_a_bad_tenant_or_slot_number_is_refused_before_anything_is_sent(
    broker: SecuredBroker,
) -> None:
    client = await reader(broker, "a")
    with pytest.raises(ValueError, match="tenant"):
        TenantEvents(client.nc, tenant="Not A Tenant")
    with pytest.raises(ValueError, match="slot"):
        await TenantEvents(client.nc, tenant="a").durable(0)
    assert client.errors == []
