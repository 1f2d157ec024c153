"""What the broker says: a pool consumer's state and the event stream read back.

Redeliveries are counted from the consumer's sequences: ``delivered.consumer_seq``
grows with every delivery, redeliveries included, while ``delivered.stream_seq``
is the last message it delivered. When every message of the command stream up
to that one is the consumer's (the encryptor's, in a test that sends the other
pools' commands only after its own), once drained their difference is the number
of redeliveries (``num_redelivered`` only counts those still unacknowledged);
another pool's is its deliveries less the commands it handled. After
a broker crash the consumer's state may come back from a little earlier than the
stream's (it is not synced with every delivery): the difference can then go
negative and says nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient

from connmgr.schemas.bus.consumers import ENCRYPTOR_CONSUMER, ConsumerSpec
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.streams import COMMAND_STREAM, EVENT_STREAM
from connmgr.schemas.bus.subjects import event_subjects_all


@dataclass(frozen=True, slots=True)
class ConsumerStats:
    deliveries: int
    last_stream_seq: int
    pending: int
    ack_pending: int

    @property
    def redeliveries(self) -> int:
        return self.deliveries - self.last_stream_seq

    @property
    def idle(self) -> bool:
        return self.pending == 0 and self.ack_pending == 0


async def encryptor_stats(nc: NatsClient) -> ConsumerStats:
    return await consumer_stats(nc, ENCRYPTOR_CONSUMER)


async def consumer_stats(
    nc: NatsClient, consumer: ConsumerSpec, stream: str = COMMAND_STREAM
) -> ConsumerStats:
    info = await nc.jetstream().consumer_info(stream, consumer.durable)
    delivered = info.delivered
    return ConsumerStats(
        deliveries=delivered.consumer_seq if delivered else 0,
        last_stream_seq=delivered.stream_seq if delivered else 0,
        pending=info.num_pending or 0,
        ack_pending=info.num_ack_pending or 0,
    )


@dataclass(frozen=True, slots=True)
class RelayedEvent:
    """One message of ``CONNMGR_EVT``, in stream order."""

    sequence: int
    msg_id: str | None
    event_id: str
    stream_id: str
    version: int


async def read_event_stream(nc: NatsClient, timeout_s: float = 10.0) -> list[RelayedEvent]:
    """Every message of the event stream, read with an ordered consumer."""
    js = nc.jetstream()
    total = (await js.stream_info(EVENT_STREAM)).state.messages
    subscription = await js.subscribe(
        event_subjects_all(), stream=EVENT_STREAM, ordered_consumer=True
    )
    relayed: list[RelayedEvent] = []
    try:
        for _ in range(total):
            message = await subscription.next_msg(timeout=timeout_s)
            body = json.loads(message.data)
            relayed.append(
                RelayedEvent(
                    sequence=message.metadata.sequence.stream,
                    msg_id=(message.headers or {}).get(MSG_ID_HEADER),
                    event_id=body["event_id"],
                    stream_id=body["stream_id"],
                    version=body["version"],
                )
            )
    finally:
        await subscription.unsubscribe()
    return relayed
