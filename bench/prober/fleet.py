"""The bench's fleet: create commands through the encryptor, and the schedules they get.

- ``build_fleet``: one create command per connection, kinds ``redis``, ``tcp`` and
  ``http`` in turn, spread over the local targets' ports, each with
  ``health_check = {"enabled": true, "interval_s": I, "timeout_s": 2}`` and no
  secrets (``auth: none``), so no sealing is needed;
- ``wait_for_log``: until all are projection rows and the relay has published
  every event (the bench publishes them with ``harness.publish_all``);
- ``ScheduleWatch``: a core subscription on the schedule subjects, which sees
  every schedule message published (when, and for which connection);
- ``read_phases``: the stored schedule message of each connection; the broker
  fires ``@every I`` at ``round(stored time to the second) + k * I``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import (
    HOST,
    TENANT,
    BenchError,
    Check,
    Outgoing,
    command,
    note,
    poll,
    wait_for_relay,
    wait_for_rows,
)
from connmgr.schemas.bus.streams import SCHEDULE_STREAM
from connmgr.schemas.bus.subjects import schedule_subject, schedule_subjects_all
from connmgr.schemas.commands import CreatePayload

KINDS: Final = ("redis", "tcp", "http")
TIMEOUT_S: Final = 2
REDIS_PORT: Final = 6379
QUIET_S: Final = 2.0
READ_CONCURRENCY: Final = 64


@dataclass(frozen=True, slots=True)
class Targets:
    tcp_ports: Sequence[int]
    http_ports: Sequence[int]


@dataclass(frozen=True, slots=True)
class Fleet:
    """The connections created: their ids in publish order, and each one's kind."""

    kinds: dict[str, str]
    commands: list[Outgoing]  # in id order

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


def build_fleet(count: int, targets: Targets, interval_s: int) -> Fleet:
    """``count`` create commands; one payload of each kind is validated here first."""
    for kind in KINDS:
        CreatePayload.model_validate_json(json.dumps(create_payload(kind, 0, targets, interval_s)))
    kinds: dict[str, str] = {}
    commands = []
    for index in range(count):
        kind, connection_id = KINDS[index % len(KINDS)], str(uuid.uuid4())
        kinds[connection_id] = kind
        payload = create_payload(kind, index, targets, interval_s)
        commands.append(command("create", connection_id, payload))
    return Fleet(kinds, commands)


async def wait_for_log(engine: AsyncEngine, count: int, check: Check, timeout_s: float) -> None:
    """Until ``count`` connections are stored and the relay has published every event."""
    await wait_for_rows(engine, count, check, timeout_s)
    await wait_for_relay(engine, check, timeout_s)


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
        wanted = set(ids)

        async def settled() -> str | None:
            quiet = time.time() - max(self.last_put.values(), default=time.time()) > QUIET_S
            ready = quiet and wanted.issubset(self.last_put) and await done()
            return None if ready else "not settled"

        if await poll(settled, lambda: None, timeout_s, poll_s=0.2) is not None:
            if not wanted.issubset(self.last_put):
                have = len(wanted.intersection(self.last_put))
                raise BenchError(f"{have} of {len(wanted)} schedules after {timeout_s:.0f}s")
            note(f"schedules still being published after {timeout_s:.0f}s: going on")
        return max(self.last_put[connection_id] for connection_id in wanted)


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
