"""JetStream streams, consumers and KV buckets, declared from the names in ``schemas.bus``.

``ensure_streams`` is idempotent: each pool calls it at start-up, so any pool can
be the first one deployed.
"""

from __future__ import annotations

from dataclasses import replace

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from connmgr.schemas.bus import (
    COMMAND_STREAM,
    DEAD_LETTER_STREAM,
    DUPLICATE_WINDOW_S,
    EVENT_STREAM,
    KEYS_BUCKET,
    ConsumerSpec,
    command_subjects_all,
    dead_letter_subjects,
    event_subjects_all,
    schedule_subjects_all,
)

# Larger than the 64 KiB command limit on purpose: an oversized command must
# reach a worker to be rejected with a reason, not vanish at publish time.
STREAM_MAX_MSG_BYTES = 1024 * 1024


def command_stream_config() -> StreamConfig:
    return StreamConfig(
        name=COMMAND_STREAM,
        subjects=[command_subjects_all(), schedule_subjects_all()],
        retention=RetentionPolicy.WORK_QUEUE,
        allow_msg_schedules=True,
        allow_rollup_hdrs=True,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_msg_size=STREAM_MAX_MSG_BYTES,
    )


def event_stream_config() -> StreamConfig:
    return StreamConfig(
        name=EVENT_STREAM,
        subjects=[event_subjects_all()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_age=30 * 24 * 3600.0,
    )


def dead_letter_stream_config() -> StreamConfig:
    return StreamConfig(
        name=DEAD_LETTER_STREAM,
        subjects=dead_letter_subjects(),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=30 * 24 * 3600.0,
    )


async def ensure_stream(
    js: JetStreamContext, config: StreamConfig, replicas: int | None = None
) -> None:
    """Create the stream, or bring an older definition up to this one's subjects and flags.

    ``replicas`` None keeps what the stream has (1 for a new one): pools call this
    at start-up and must never undo an operator's ``connmgr streams ensure``.
    """
    try:
        info = await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(replace(config, num_replicas=replicas or 1))
        return
    current = info.config
    wanted = replace(config, num_replicas=replicas or current.num_replicas)
    if (
        set(current.subjects or []) != set(wanted.subjects or [])
        or bool(current.allow_msg_schedules) != bool(wanted.allow_msg_schedules)
        or bool(current.allow_rollup_hdrs) != bool(wanted.allow_rollup_hdrs)
        or current.num_replicas != wanted.num_replicas
    ):
        await js.update_stream(wanted)


async def ensure_streams(js: JetStreamContext, replicas: int | None = None) -> None:
    for config in (command_stream_config(), event_stream_config(), dead_letter_stream_config()):
        await ensure_stream(js, config, replicas)


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


async def ensure_consumer(js: JetStreamContext, stream: str, spec: ConsumerSpec) -> None:
    await js.add_consumer(stream, consumer_config(spec))


async def keys_bucket(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(KEYS_BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=KEYS_BUCKET, history=5))
