"""Every pool's durable pull consumer, declared from its ``ConsumerSpec``.

``ensure_consumer`` reads the consumer's info first and writes only when it is
missing or differs, like ``streams.ensure_stream``: a pool whose user may only read
consumer info starts against durables an operator declared (``connmgr streams
ensure`` creates them all: ``ensure_consumers``, from ``schemas.bus.consumers``).
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from connmgr.schemas.bus.consumers import ALL_DURABLES, ConsumerSpec


def consumer_config(spec: ConsumerSpec) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=spec.durable,
        filter_subjects=list(spec.filter_subjects),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.NEW if spec.new_messages_only else DeliverPolicy.ALL,
        max_deliver=spec.max_deliver,
        ack_wait=spec.ack_wait_s,
        max_ack_pending=spec.max_ack_pending,
    )


def consumer_differs(current: ConsumerConfig, spec: ConsumerSpec) -> bool:
    filters = set(
        current.filter_subjects or ([current.filter_subject] if current.filter_subject else [])
    )
    return (
        filters != set(spec.filter_subjects)
        or current.max_deliver != spec.max_deliver
        or current.max_ack_pending != spec.max_ack_pending
        or abs((current.ack_wait or 0.0) - spec.ack_wait_s) > 1e-3
    )


async def ensure_consumer(js: JetStreamContext, stream: str, spec: ConsumerSpec) -> None:
    """Create or update the durable only when it is missing or differs (read first)."""
    try:
        info = await js.consumer_info(stream, spec.durable)
    except NotFoundError:
        info = None
    if info is None or consumer_differs(info.config, spec):
        await js.add_consumer(stream, consumer_config(spec))


async def ensure_consumers(js: JetStreamContext) -> None:
    for stream, spec in ALL_DURABLES:
        await ensure_consumer(js, stream, spec)
