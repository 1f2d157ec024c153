"""Re-creating a stream the server will not update in place, keeping its messages.

nats-server never turns message schedules or TTLs off on an existing stream,
nor lifts ``deny_purge``/``deny_delete``: the command stream of a deployment from
before the schedule stream (``connmgr.schedule.>`` in ``CONNMGR_CMD``, schedules
and rollups on) must be re-created. ``recreate_stream``:

1. purges the old schedule subjects, so nothing fires any more (the keeper
   places every schedule again in ``CONNMGR_SCHED`` at the prober's start);
2. copies each remaining message into the holding stream ``CONNMGR_CMD_UPGRADE``
   (its subject in ``Connmgr-Original-Subject``), except those carrying a header
   the server interprets other than ``Nats-Msg-Id``: scheduler firings (the new
   schedules fire again) and tenants' messages with control headers, each logged;
3. deletes the stream and creates it with the new definition and the durable
   consumers it had;
4. moves the held messages back in order (``restore_held``) and deletes the
   holding stream.

A crash in 2 is repaired by the next run (the holding stream is rebuilt from the
old stream, still intact); a crash after 3 leaves the holding stream, which the
next ``connmgr streams ensure`` moves back (``restore_held``; a message moved
twice within the duplicate window is dropped by its ``Nats-Msg-Id``). Commands
published between the copy and the delete are lost, so the upgrade is run with
producers paused, once, by the operator (pools have no right to delete streams).
"""

from __future__ import annotations

import contextlib
from typing import Final

import structlog
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import NotFoundError

from connmgr.schemas.bus.headers import (
    MSG_ID_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    command_header_refusal,
)
from connmgr.schemas.bus.streams import UPGRADE_STREAM
from connmgr.schemas.bus.subjects import UPGRADE_PREFIX, schedule_subjects_all, upgrade_subject

log = structlog.get_logger("connmgr.streams")
HOLDING_MAX_MSG_BYTES: Final = 2 * 1024 * 1024


def needs_recreating(current: StreamConfig, wanted: StreamConfig) -> bool:
    """True when the server would refuse to update ``current`` to ``wanted``."""
    return any(
        bool(getattr(current, flag)) and not bool(getattr(wanted, flag))
        for flag in ("allow_msg_schedules", "allow_msg_ttl", "deny_purge", "deny_delete")
    )


async def recreate_stream(js: JetStreamContext, info: StreamInfo, wanted: StreamConfig) -> None:
    name = wanted.name or ""
    with contextlib.suppress(NotFoundError):
        await js.purge_stream(name, subject=schedule_subjects_all())
    consumers = [consumer.config for consumer in await js.consumers_info(name)]
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(UPGRADE_STREAM)
    await js.add_stream(_holding_config(info.config.num_replicas or 1))
    held, dropped = await _hold(js, name)
    await js.delete_stream(name)
    await js.add_stream(wanted)
    for consumer in consumers:
        await js.add_consumer(name, consumer)
    moved = await restore_held(js)
    log.warning("stream_recreated", stream=name, held=held, moved=moved, dropped=dropped)


def _holding_config(replicas: int) -> StreamConfig:
    return StreamConfig(
        name=UPGRADE_STREAM,
        subjects=[f"{UPGRADE_PREFIX}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_msg_size=HOLDING_MAX_MSG_BYTES,
        num_replicas=replicas,
    )


async def _hold(js: JetStreamContext, stream: str) -> tuple[int, int]:
    """Copy the stream's messages into the holding stream; returns (held, dropped)."""
    held = dropped = 0
    sequence = 1
    while (message := await _next_message(js, stream, sequence)) is not None:
        sequence = (message.seq or sequence) + 1
        headers = dict(message.headers or {})
        refused = command_header_refusal(headers)
        if refused is not None:
            log.warning("upgrade_dropped", stream=stream, sequence=message.seq, header=refused)
            dropped += 1
            continue
        headers[ORIGINAL_SUBJECT_HEADER] = message.subject or ""
        await js.publish(upgrade_subject(sequence - 1), message.data or b"", headers=headers)
        held += 1
    return held, dropped


async def _next_message(js: JetStreamContext, stream: str, sequence: int) -> RawStreamMsg | None:
    try:
        return await js.get_msg(stream, sequence, next=True)
    except NotFoundError:
        return None


async def restore_held(js: JetStreamContext) -> int:
    """Publish the holding stream's messages to their subjects in order, then delete it.

    Returns how many were moved (0 when there is no holding stream)."""
    moved = 0
    sequence = 1
    try:
        while (message := await _next_message(js, UPGRADE_STREAM, sequence)) is not None:
            sequence = (message.seq or sequence) + 1
            headers = dict(message.headers or {})
            subject = headers.pop(ORIGINAL_SUBJECT_HEADER, "")
            if MSG_ID_HEADER not in headers:
                headers[MSG_ID_HEADER] = f"upgrade:{message.seq}"
            await js.publish(subject, message.data or b"", headers=headers)
            moved += 1
        await js.delete_stream(UPGRADE_STREAM)
    except NotFoundError:
        return moved
    return moved
