"""Latency at a fixed offered rate: from each command's scheduled publish to its effects.

The relay runs and has caught up with the log before the clock starts
(``harness.wait_for_relay``); ``Latencies`` says what "visible" means.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import PubAck

from bench.harness import PUBLISH_WINDOW, Check, Outgoing, publish_one, wait_for
from connmgr.schemas.bus.subjects import event_subjects_all


@dataclass
class Arrivals:
    """When each command's outcome reply and its ``ConnectionCreated`` event arrived."""

    replies: dict[str, float] = field(default_factory=dict)
    events: dict[str, float] = field(default_factory=dict)

    async def on_reply(self, msg: Msg) -> None:
        self.replies[msg.subject.rpartition(".")[2]] = time.perf_counter()

    async def on_event(self, msg: Msg) -> None:
        # connmgr.evt.<tenant>.<connection_id>.<type>
        parts = msg.subject.split(".")
        if len(parts) == 5 and parts[4] == "ConnectionCreated":
            self.events[parts[3]] = time.perf_counter()


@dataclass(frozen=True, slots=True)
class Latencies:
    """Milliseconds from each command's scheduled publish time to:

    - ``visible``: its outcome reply (``reply_to``), which the encryptor publishes
      right after the batch transaction commits; the projection row is committed
      in that same transaction, so this is publish-to-visible without polling;
    - ``relayed``: its ``ConnectionCreated`` event on ``connmgr.evt.>`` (core NATS),
      which the relay publishes after reading the committed log: what another
      system sees, including the relay's idle poll interval.
    """

    visible: list[float]
    relayed: list[float]


async def offered_load_latency(
    nc: NatsClient,
    items: Sequence[Outgoing],
    reply_prefix: str,
    rate: float,
    check: Check,
    timeout_s: float,
) -> Latencies:
    """Publish ``items`` at ``rate``/s; wait up to ``timeout_s`` for every reply and event."""
    arrivals = Arrivals()
    reply_sub = await nc.subscribe(f"{reply_prefix}.*", cb=arrivals.on_reply)
    event_sub = await nc.subscribe(event_subjects_all(), cb=arrivals.on_event)
    await nc.flush()
    try:
        scheduled = await _offer(
            nc.jetstream(publish_async_max_pending=PUBLISH_WINDOW), items, rate
        )
        await _wait_for_arrivals(arrivals, items, check, timeout_s)
    finally:
        await reply_sub.unsubscribe()
        await event_sub.unsubscribe()
    sent = list(zip(items, scheduled, strict=True))
    return Latencies(
        visible=[_ms(arrivals.replies[uuid.UUID(item.command_id).hex], at) for item, at in sent],
        relayed=[_ms(arrivals.events[item.connection_id], at) for item, at in sent],
    )


def _ms(arrived: float, scheduled: float) -> float:
    return (arrived - scheduled) * 1000


async def _offer(js: JetStreamContext, items: Sequence[Outgoing], rate: float) -> list[float]:
    """Publish item ``i`` at ``start + i / rate``; returns those scheduled times.

    Latency counts from the scheduled time, not the actual publish, so a
    generator that falls behind cannot hide the delay (no coordinated omission).
    """
    start = time.perf_counter() + 0.01
    scheduled: list[float] = []
    acks: list[asyncio.Future[PubAck]] = []
    for index, item in enumerate(items):
        due = start + index / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        scheduled.append(due)
        acks.append(await publish_one(js, item))
    await asyncio.gather(*acks)
    return scheduled


async def _wait_for_arrivals(
    arrivals: Arrivals, items: Sequence[Outgoing], check: Check, timeout_s: float
) -> None:
    async def arrived() -> str | None:
        replies, events = len(arrivals.replies), len(arrivals.events)
        if replies >= len(items) and events >= len(items):
            return None
        return f"{replies} replies and {events} events of {len(items)} commands"

    await wait_for(arrived, check, timeout_s)
