"""The bench's fleet: create commands through the encryptor, and the schedules they get.

- ``build_fleet``: one create command per connection, kinds ``redis``, ``tcp`` and
  ``http`` in turn, spread over the local targets' ports, each with
  ``health_check = {"enabled": true, "interval_s": I, "timeout_s": 2}`` and no
  secrets (``auth: none``), so no sealing is needed;
- ``publish_all``: publishes them to ``CONNMGR_CMD`` as fast as the broker
  acknowledges (a window of unacknowledged publishes); ``wait_for_log`` waits
  until all are projection rows and the relay has published every event;
- ``ScheduleWatch``: a core subscription on the schedule subjects, which sees
  every schedule message published (when, and for which connection);
- ``read_phases``: the stored schedule message of each connection; the broker
  fires ``@every I`` at ``round(stored time to the second) + k * I``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus import (
    COMMAND_STREAM,
    MSG_ID_HEADER,
    RELAY_CHECKPOINT,
    SCHEDULE_STREAM,
    command_subject,
    schedule_subject,
    schedule_subjects_all,
)
from connmgr.schemas.commands import CreatePayload
from connmgr.storage.relay_checkpoint import read_checkpoint
from connmgr.storage.tables import connections, events
from harness import HOST, BenchError, note

TENANT: Final = "bench"
KINDS: Final = ("redis", "tcp", "http")
TIMEOUT_S: Final = 2
REDIS_PORT: Final = 6379
QUIET_S: Final = 2.0
READ_CONCURRENCY: Final = 64
Check = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Targets:
    tcp_ports: Sequence[int]
    http_ports: Sequence[int]


@dataclass(frozen=True, slots=True)
class Fleet:
    """The connections created: their ids in publish order, and each one's kind."""

    kinds: dict[str, str]
    bodies: list[tuple[str, bytes]]  # (command_id, command bytes), in id order

    @property
    def ids(self) -> list[str]:
        return list(self.kinds)


def _config(kind: str, index: int, targets: Targets) -> dict[str, Any]:
    if kind == "redis":
        return {"host": HOST, "port": REDIS_PORT}
    if kind == "tcp":
        return {"host": HOST, "port": targets.tcp_ports[index % len(targets.tcp_ports)]}
    port = targets.http_ports[index % len(targets.http_ports)]
    return {"base_url": f"http://{HOST}:{port}", "test": {"path": "/health"}}


def create_payload(kind: str, index: int, targets: Targets, interval_s: int) -> dict[str, Any]:
    return {
        "name": f"probe-{kind}-{index}",
        "kind": kind,
        "config": _config(kind, index, targets),
        "auth": {"method": "none"},
        "health_check": {"enabled": True, "interval_s": interval_s, "timeout_s": TIMEOUT_S},
        "tags": ["bench"],
    }


def create_command(connection_id: str, payload: dict[str, Any]) -> tuple[str, bytes]:
    command_id = str(uuid.uuid4())
    document = {
        "command_id": command_id,
        "type": "create",
        "connection_id": connection_id,
        "issued_at": datetime.now(UTC).isoformat(),
        "actor": {"id": "bench", "tenant": TENANT},
        "payload": payload,
    }
    return command_id, json.dumps(document, separators=(",", ":")).encode()


def build_fleet(count: int, targets: Targets, interval_s: int) -> Fleet:
    """``count`` create commands; one payload of each kind is validated here first."""
    for kind in KINDS:
        CreatePayload.model_validate_json(json.dumps(create_payload(kind, 0, targets, interval_s)))
    kinds: dict[str, str] = {}
    bodies = []
    for index in range(count):
        kind, connection_id = KINDS[index % len(KINDS)], str(uuid.uuid4())
        kinds[connection_id] = kind
        bodies.append(
            create_command(connection_id, create_payload(kind, index, targets, interval_s))
        )
    return Fleet(kinds, bodies)


async def wait_for_consumer(
    js: JetStreamContext, stream: str, durable: str, check: Check, timeout_s: float
) -> None:
    """Until the durable consumer exists (its pool has created the streams and it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(NotFoundError):
            await js.consumer_info(stream, durable)
            return
        check()
        if time.monotonic() > deadline:
            raise BenchError(f"no consumer {durable!r} after {timeout_s:.0f}s")
        await asyncio.sleep(0.1)


async def publish_all(js: JetStreamContext, fleet: Fleet) -> None:
    """Publish every create; return once each is acknowledged (stored) by the broker."""
    acks: list[asyncio.Future[PubAck]] = []
    for connection_id, (command_id, body) in zip(fleet.ids, fleet.bodies, strict=True):
        subject = command_subject(TENANT, "create", connection_id)
        headers = {MSG_ID_HEADER: command_id}
        acks.append(await js.publish_async(subject, body, stream=COMMAND_STREAM, headers=headers))
    await asyncio.gather(*acks)


async def _log_state(engine: AsyncEngine) -> tuple[int, int, int]:
    """(projection rows, last event position, relay checkpoint)."""
    async with engine.connect() as connection:
        rows = await connection.scalar(select(func.count()).select_from(connections))
        head = await connection.scalar(select(func.max(events.c.position)))
        relayed = await read_checkpoint(connection, RELAY_CHECKPOINT)
    return int(rows or 0), int(head or 0), relayed


async def wait_for_log(engine: AsyncEngine, count: int, check: Check, timeout_s: float) -> None:
    """Until ``count`` connections are stored and the relay has published every event."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows, head, relayed = await _log_state(engine)
        if rows >= count and relayed >= head:
            return
        check()
        if time.monotonic() > deadline:
            raise BenchError(f"{rows} of {count} stored, {relayed} of {head} events relayed")
        await asyncio.sleep(0.2)


@dataclass
class ScheduleWatch:
    """Every schedule message published (core subscription, so a put the stream
    refused is seen too): last time per connection."""

    last_put: dict[str, float] = field(default_factory=dict)
    puts: int = 0
    _subscription: Subscription | None = None

    async def start(self, nc: NatsClient) -> None:
        self._subscription = await nc.subscribe(schedule_subjects_all(), cb=self._on_put)
        await nc.flush()

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()

    async def _on_put(self, msg: Msg) -> None:
        self.puts += 1
        self.last_put[msg.subject.rpartition(".")[2]] = time.time()

    async def wait_settled(
        self, ids: Sequence[str], done: Callable[[], Awaitable[bool]], timeout_s: float
    ) -> float:
        """Until every connection has a schedule, ``done()`` holds and no schedule was
        published for ``QUIET_S``; returns the time of the last one published. Past
        ``timeout_s`` with every connection scheduled it goes on, with a note (schedules
        still published later shift the phases: a note at the end counts them)."""
        deadline = time.monotonic() + timeout_s
        wanted = set(ids)
        while True:
            quiet = time.time() - max(self.last_put.values(), default=time.time()) > QUIET_S
            scheduled = wanted.issubset(self.last_put)
            if quiet and scheduled and await done():
                return max(self.last_put[connection_id] for connection_id in wanted)
            if time.monotonic() > deadline:
                if not scheduled:
                    have = len(wanted.intersection(self.last_put))
                    raise BenchError(f"{have} of {len(wanted)} schedules after {timeout_s:.0f}s")
                note(f"schedules still being published after {timeout_s:.0f}s: going on")
                return max(self.last_put[connection_id] for connection_id in wanted)
            await asyncio.sleep(0.2)


async def read_phases(js: JetStreamContext, ids: Sequence[str]) -> dict[str, float]:
    """Each connection's stored schedule time (Unix seconds, rounded as the broker does)."""
    slots = asyncio.Semaphore(READ_CONCURRENCY)

    async def one(connection_id: str) -> tuple[str, float]:
        async with slots:
            stored = await js.get_last_msg(SCHEDULE_STREAM, schedule_subject(TENANT, connection_id))
        if stored.time is None:
            raise BenchError(f"the schedule of {connection_id} has no time")
        # Go's time.Round(time.Second): halves away from zero.
        return connection_id, float(int(stored.time.timestamp() + 0.5))

    return dict(await asyncio.gather(*(one(connection_id) for connection_id in ids)))
