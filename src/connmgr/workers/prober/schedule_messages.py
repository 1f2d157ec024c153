"""A connection's schedule as the broker holds it: one message on
``connmgr.schedule.<tenant>.<id>`` in the schedule stream ``CONNMGR_SCHED``
(which only the prober writes and reads), firing into
``connmgr.probe.<tenant>.<id>`` in the same stream; read, put and purged.

A put names the stored schedule it replaces (``Nats-Expected-Last-Subject-
Sequence``): when the keepers of several replicas place one connection at once,
the broker takes the first put and refuses the others, so a schedule is never
published twice and its timing never reset by a put resting on an older read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import structlog
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from connmgr.schemas.bus.headers import (
    EXPECTED_SUBJECT_SEQUENCE_HEADER,
    ROLLUP_HEADER,
    ROLLUP_SUBJECT,
    SCHEDULE_HEADER,
    SCHEDULE_TARGET_HEADER,
    WRONG_LAST_SEQUENCE,
)
from connmgr.schemas.bus.streams import SCHEDULE_STREAM
from connmgr.schemas.bus.subjects import probe_subject, schedule_subject
from connmgr.storage.projection import ConnectionState

log = structlog.get_logger("connmgr.schedules")
SCHEDULER_ACTOR: Final = "scheduler"


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    every: str | None
    """Its ``Nats-Schedule`` (``@every <interval>s``); None when none is stored."""
    sequence: int
    """Its stream sequence (0: none stored): a put replacing it expects it."""


def schedule_body(state: ConnectionState) -> bytes:
    """The check command each firing delivers; its id is per schedule, so the prober
    tells firings apart by their stream sequence, not by this id."""
    document = {
        "command_id": _schedule_command_id(state),
        "type": "check",
        "connection_id": state.id,
        "issued_at": datetime.now(UTC).isoformat(),
        "actor": {"id": SCHEDULER_ACTOR, "tenant": state.tenant},
        "payload": {},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _schedule_command_id(state: ConnectionState) -> str:
    return str(uuid.uuid5(uuid.UUID(state.id), f"schedule:{state.version}"))


def interval_of(state: ConnectionState) -> int:
    return int(state.health_check.get("interval_s", 60))


def every_of(state: ConnectionState) -> str:
    return f"@every {interval_of(state)}s"


def wants_schedule(state: ConnectionState | None) -> bool:
    return state is not None and not state.deleted and bool(state.health_check.get("enabled"))


async def read_stored_schedule(
    js: JetStreamContext, tenant: str, connection_id: str
) -> StoredSchedule:
    subject = schedule_subject(tenant, connection_id)
    try:
        stored = await js.get_last_msg(SCHEDULE_STREAM, subject)
    except NotFoundError:
        return StoredSchedule(None, 0)
    return StoredSchedule((stored.headers or {}).get(SCHEDULE_HEADER), stored.seq or 0)


async def read_stored_schedules(
    js: JetStreamContext, keys: list[tuple[str, str]], at_once: int
) -> list[StoredSchedule]:
    """The stored schedule of each ``(tenant, connection id)``, in order, ``at_once``
    reads in flight at most."""
    slots = asyncio.Semaphore(at_once)

    async def stored_of(tenant: str, connection_id: str) -> StoredSchedule:
        async with slots:
            return await read_stored_schedule(js, tenant, connection_id)

    return list(await asyncio.gather(*(stored_of(*key) for key in keys)))


async def put_schedule(js: JetStreamContext, state: ConnectionState, replacing: int) -> bool:
    """Publish the connection's schedule over the stored one at sequence ``replacing``
    (0: none stored). False when another keeper put or purged it since: its schedule
    stands, and this one is not published."""
    headers = {
        SCHEDULE_HEADER: every_of(state),
        SCHEDULE_TARGET_HEADER: probe_subject(state.tenant, state.id),
        ROLLUP_HEADER: ROLLUP_SUBJECT,
        EXPECTED_SUBJECT_SEQUENCE_HEADER: str(replacing),
    }
    subject = schedule_subject(state.tenant, state.id)
    try:
        await js.publish(subject, schedule_body(state), headers=headers)
    except BadRequestError as error:
        if error.err_code != WRONG_LAST_SEQUENCE:
            raise
        log.debug("schedule_put_by_another", connection_id=state.id)
        return False
    return True


async def purge_schedule(js: JetStreamContext, tenant: str, connection_id: str) -> None:
    with contextlib.suppress(NotFoundError):
        await js.purge_stream(SCHEDULE_STREAM, subject=schedule_subject(tenant, connection_id))
