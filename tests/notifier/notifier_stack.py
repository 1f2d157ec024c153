"""A notifier stack: the pool with its NATS connection, database, key ring and receiver."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.js.api import ConsumerInfo
from notifier_peers import TENANT, Receiver
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.consumers import NOTIFIER_CONSUMER
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.streams import EVENT_STREAM
from connmgr.storage.tables import events, notification_deliveries
from connmgr.workers.keyring import Keyring
from connmgr.workers.notifier import DeliveryPolicy, NotifierPool
from support.commands import command, sealed, subject_of
from support.encryptor import Encryptor

FAST = DeliveryPolicy(attempts_per_delivery=3, max_attempts=6, backoff_s=0.01, timeout_s=5)


@dataclass
class NotifierStack:
    nc: Client
    engine: AsyncEngine
    keyring: Keyring
    encryptor: Encryptor
    receiver: Receiver
    pool: NotifierPool
    wire: list[bytes] = field(default_factory=list)

    async def create(
        self, payload: dict[str, Any], secrets: dict[str, str] | None = None, tenant: str = TENANT
    ) -> str:
        connection_id = str(uuid.uuid4())
        if secrets is not None:
            payload = {
                **payload,
                "secrets": sealed(secrets, self.keyring.seal_public_info(), connection_id),
            }
        document = command("create", connection_id, payload, tenant=tenant)
        outcome = await self.encryptor.one(document, subject=subject_of(document, tenant))
        assert outcome.outcome == "accepted", outcome
        return connection_id

    async def watched(self, tenant: str = TENANT, name: str = "orders-db") -> str:
        """A connection alerts can be about (names are unique per tenant: give another
        ``name`` for a second one)."""
        config = {"host": "db.internal", "port": 5432, "database": "orders", "ssl": "require"}
        payload = {"name": name, "kind": "postgres", "config": config}
        return await self.create(payload, tenant=tenant)

    async def publish(self, subject: str, body: bytes, msg_id: str | None = None) -> None:
        headers = {MSG_ID_HEADER: msg_id or str(uuid.uuid4())}
        await self.nc.jetstream().publish(subject, body, headers=headers)

    async def events_of(self, event_type: str) -> list[Any]:
        async with self.engine.connect() as connection:
            query = select(events).where(events.c.type == event_type).order_by(events.c.position)
            return list((await connection.execute(query)).all())

    async def deliveries(self) -> list[Any]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(select(notification_deliveries))).all())

    async def consumer(self) -> ConsumerInfo:
        info: ConsumerInfo = await self.nc.jetstream().consumer_info(
            EVENT_STREAM, NOTIFIER_CONSUMER.durable
        )
        return info

    async def deliveries_made(self) -> int:
        """How many times the consumer handed out a message, redeliveries included."""
        delivered = (await self.consumer()).delivered
        return (delivered.consumer_seq or 0) if delivered is not None else 0

    async def settled(self) -> bool:
        """Every message the consumer was handed is acked and none is waiting."""
        info = await self.consumer()
        return info.num_ack_pending == 0 and info.num_pending == 0


StartStack = Callable[..., Awaitable[NotifierStack]]
"""``await start_stack(policy=…, egress=…)`` -> a started ``NotifierStack``."""
