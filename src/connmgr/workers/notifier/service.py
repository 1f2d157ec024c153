"""The notifier pool's process: alert events in, deliveries to the tenant's channels out.

Start-up fails closed like the encryptor's: the key ring must open the stored
data keys (channel secrets are opened with it). Then the streams and the
durable ``notifier`` consumer on ``CONNMGR_EVT`` (filtered to ``AlertRaised``
and ``AlertResolved``) are declared. The consumer is created with deliver
policy ``new``: a first deployment does not replay the stream's history of
alerts to the channels; from then on the durable keeps its place, so time the
notifier is down delays notifications and loses none.

Acknowledgement (owned by ``ConcurrentConsumer``): ack once every channel's
delivery is final; nak with the consumer's growing delay while some delivery
should be retried (never a hot loop); ack and log an undecodable message. The
consumer's last delivery is the notifier's last chance: a delivery still
failing then is recorded as failed. Each message ends in one
``message_handled`` line (``message_context``; the event's tenant, connection,
type and id are the adapter's log context).

Each message is a ``notifier process`` span, child of the relay's (the message's
valid ``traceparent`` header, else a root); each webhook POST is a child span
whose ``traceparent`` the request carries (``delivery``, ``connmgr.tracing``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Final

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.consumers import NOTIFIER_CONSUMER
from connmgr.schemas.bus.streams import EVENT_STREAM
from connmgr.schemas.kinds import Kind
from connmgr.tracing.spans import hop
from connmgr.tracing.traceparent import traceparent_in
from connmgr.workers.concurrent_consumer import ConcurrentConsumer
from connmgr.workers.durables import ensure_consumer
from connmgr.workers.egress import Egress
from connmgr.workers.keyring import Keyring, verify_keyring_opens
from connmgr.workers.message_context import log_handled
from connmgr.workers.notifier.delivery import DeliveryPolicy, WebhookSender
from connmgr.workers.notifier.email import MailSender
from connmgr.workers.notifier.notices import read_notice
from connmgr.workers.notifier.notify import Notifier, Sender
from connmgr.workers.streams import ensure_streams

log = structlog.get_logger("connmgr.notifier")
DEFAULT_MAX_IN_FLIGHT: Final = 64


class NotifierPool:
    def __init__(
        self,
        nc: NatsClient,
        engine: AsyncEngine,
        keyring: Keyring,
        egress: Egress,
        *,
        policy: DeliveryPolicy | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self._nc = nc
        self._engine = engine
        self._keyring = keyring
        self._max_in_flight = max_in_flight
        policy = policy or DeliveryPolicy()
        senders: dict[Kind, Sender] = {
            Kind.WEBHOOK: WebhookSender(egress, policy),
            Kind.SMTP: MailSender(egress, policy),
        }
        self.notifier = Notifier(engine, keyring, senders, policy)

    async def start(self) -> None:
        await verify_keyring_opens(self._engine, self._keyring)
        js = self._nc.jetstream()
        await ensure_streams(js)
        await ensure_consumer(js, EVENT_STREAM, NOTIFIER_CONSUMER)  # deliver policy "new"

    async def run(self, stop: asyncio.Event) -> None:
        consumer = ConcurrentConsumer(
            self._nc.jetstream(), EVENT_STREAM, NOTIFIER_CONSUMER, self.handle, self._max_in_flight
        )
        await consumer.run(stop)

    async def handle(self, message: Msg) -> bool:
        """True to ack (done, or unreadable), False to nak for a later retry."""
        started = time.perf_counter()
        notice = read_notice(message.data)
        if notice is None:
            log_handled(log, started, "discarded", warn=True, reason="unreadable")
            return True
        last_chance = message.metadata.num_delivered >= NOTIFIER_CONSUMER.max_deliver
        parent = traceparent_in(message.headers)
        attributes = {"messaging.system": "nats", "connmgr.event_type": notice.event_type}
        with hop("notifier process", parent, SpanKind.CONSUMER, attributes) as traceparent:
            notice = replace(notice, traceparent=traceparent)
            final = await self.notifier.notify(notice, last_chance=last_chance)
        outcome = "done" if final else "retry"
        log_handled(log, started, outcome, warn=not final, alert_id=notice.alert_id)
        return final
