"""A tenant's own events over NATS: a live subscription and durable consumers.

    events = TenantEvents(nc, tenant="acme")          # nc: connected with the tenant's token
    live = await events.live()                        # connmgr.evt.acme.> from now on
    durable = await events.durable(1)                 # consumer acme-evt-1 on CONNMGR_EVT
    for message in await durable.fetch(10):
        ...; await message.ack()

Contract:

- ``live`` subscribes to the tenant's own event subjects only; nothing is kept
  while the client is away;
- ``durable(slot)`` creates (or re-attaches to) the tenant's consumer slot
  ``<tenant>-evt-<slot>`` through JetStream's *filtered* create subject, pull
  mode, explicit acks, and binds a pull subscription to it: it resumes where the
  last acked event left off. The broker allows each tenant only its slots
  ``1`` … ``CONNMGR_NATS_EVENT_CONSUMER_SLOTS``: another number, another tenant's
  events, or another filter are refused by the server;
- ``forget(slot)`` deletes the slot's consumer (its position is lost).
"""

from __future__ import annotations

from nats.aio.client import Client
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from connmgr.schemas.bus.streams import EVENT_STREAM
from connmgr.schemas.bus.subjects import is_valid_tenant
from connmgr.schemas.identities import event_consumer_slot, tenant_event_filter


class TenantEvents:
    """One tenant's events (see module doc); ``nc`` is the tenant's own connection."""

    def __init__(self, nc: Client, *, tenant: str) -> None:
        if not is_valid_tenant(tenant):
            raise ValueError("the tenant must match [a-z0-9_-]{1,64}")
        self._nc = nc
        self._tenant = tenant

    @property
    def subjects(self) -> str:
        return tenant_event_filter(self._tenant)

    async def live(self) -> Subscription:
        """Events published from now on; read with ``next_msg`` or iterate ``messages``."""
        subscription = await self._nc.subscribe(self.subjects)
        await self._nc.flush()
        return subscription

    async def durable(
        self, slot: int = 1, *, from_now: bool = False
    ) -> JetStreamContext.PullSubscription:
        """The slot's durable consumer (created on first use), bound for ``fetch``.

        ``from_now``: a new consumer starts at new events instead of the first one kept.
        """
        name = event_consumer_slot(self._tenant, slot)
        config = ConsumerConfig(
            name=name,
            durable_name=name,
            filter_subject=self.subjects,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW if from_now else DeliverPolicy.ALL,
        )
        js = self._nc.jetstream()
        await js.add_consumer(EVENT_STREAM, config)
        return await js.pull_subscribe_bind(name, EVENT_STREAM)

    async def forget(self, slot: int) -> bool:
        """Delete the slot's consumer; True when it existed."""
        name = event_consumer_slot(self._tenant, slot)
        return await self._nc.jetstream().delete_consumer(EVENT_STREAM, name)
