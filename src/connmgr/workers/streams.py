"""JetStream streams, consumers and KV buckets, declared from the names in ``schemas.bus``.

Streams:

- ``CONNMGR_CMD`` (tenants write it): ``connmgr.cmd.>`` only; no message
  schedules, rollups, per-message TTLs, counters or atomic batches, and no purge
  (``deny_purge``), so a tenant's message never acts outside its own subject.
  Deletes stay allowed: ``connmgr dlq replay`` deletes the message it replays.
- ``CONNMGR_SCHED`` (only the prober): the check schedules and their firings,
  with schedules and rollups on (the keeper replaces a schedule by rollup).
- ``CONNMGR_EVT`` and ``CONNMGR_DLQ``: events and dead letters.

``ensure_stream`` reads a stream's info first and writes only when the stream
is missing or differs, so a pool whose user may only read stream and consumer
info starts against streams an operator declared (``connmgr streams ensure``,
which also creates every pool's durable: ``durables.ensure_consumers``). The command
stream of a deployment from before the schedule stream existed cannot be
updated in place (the server never turns schedules off): ``stream_upgrade``
re-creates it, keeping its commands.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import (
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from connmgr.schemas.bus.streams import (
    COMMAND_STREAM,
    DEAD_LETTER_STREAM,
    DUPLICATE_WINDOW_S,
    EVENT_STREAM,
    KEYS_BUCKET,
    SCHEDULE_STREAM,
)
from connmgr.schemas.bus.subjects import (
    command_subjects_all,
    dead_letter_subjects,
    event_subjects_all,
    probe_subjects_all,
    schedule_subjects_all,
)
from connmgr.workers.stream_upgrade import needs_recreating, recreate_stream

# Larger than the 64 KiB command limit on purpose: an oversized command must
# reach a worker to be rejected with a reason, not vanish at publish time.
STREAM_MAX_MSG_BYTES = 1024 * 1024


def command_stream_config() -> StreamConfig:
    return StreamConfig(
        name=COMMAND_STREAM,
        subjects=[command_subjects_all()],
        retention=RetentionPolicy.WORK_QUEUE,
        allow_msg_schedules=False,
        allow_rollup_hdrs=False,
        allow_msg_ttl=False,
        allow_msg_counter=False,
        allow_atomic=False,
        allow_batched=False,
        deny_purge=True,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_msg_size=STREAM_MAX_MSG_BYTES,
    )


def schedule_stream_config() -> StreamConfig:
    return StreamConfig(
        name=SCHEDULE_STREAM,
        subjects=[schedule_subjects_all(), probe_subjects_all()],
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


def stream_configs() -> tuple[StreamConfig, ...]:
    """In creation order: the command stream gives up the schedule subjects first."""
    return (
        command_stream_config(),
        schedule_stream_config(),
        event_stream_config(),
        dead_letter_stream_config(),
    )


_FLAGS: Final = (
    "allow_msg_schedules",
    "allow_rollup_hdrs",
    "allow_msg_ttl",
    "allow_msg_counter",
    "allow_atomic",
    "allow_batched",
    "deny_purge",
    "deny_delete",
)


def differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    """True when the stream's subjects, flags or replicas are not the declared ones."""
    return (
        set(current.subjects or []) != set(wanted.subjects or [])
        or any(bool(getattr(current, flag)) != bool(getattr(wanted, flag)) for flag in _FLAGS)
        or current.num_replicas != wanted.num_replicas
    )


async def ensure_stream(
    js: JetStreamContext, config: StreamConfig, replicas: int | None = None
) -> None:
    """Create the stream, or bring an older definition up to this one's subjects and flags.

    ``replicas`` None keeps what the stream has (1 for a new one): pools call this
    at start-up and must never undo an operator's ``connmgr streams ensure``.
    """
    info = await _stream_info(js, config.name or "")
    if info is None:
        await js.add_stream(replace(config, num_replicas=replicas or 1))
        return
    wanted = replace(config, num_replicas=replicas or info.config.num_replicas)
    if needs_recreating(info.config, wanted):
        await recreate_stream(js, info, wanted)
    elif differs(info.config, wanted):
        await js.update_stream(wanted)


async def _stream_info(js: JetStreamContext, name: str) -> StreamInfo | None:
    try:
        return await js.stream_info(name)
    except NotFoundError:
        return None


async def ensure_streams(js: JetStreamContext, replicas: int | None = None) -> None:
    for config in stream_configs():
        await ensure_stream(js, config, replicas)


async def keys_bucket(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(KEYS_BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=KEYS_BUCKET, history=5))
