"""One reader of the event log per API process, fanned out to every live-feed stream.

``LogFanout`` polls the global log (``every_tenants_events_after``) every
``poll_s`` while at least one stream is open, and hands each event to the
streams of *its* tenant only: a stream never sees another tenant's event. So a
thousand open streams cost one query per ``poll_s``, not a thousand.

A stream subscribes first, then replays the log after its start (its
``Last-Event-ID``, or where the fan-out stood), then takes the live events,
skipping positions it already sent: nothing is lost between the two. Each
stream has a bounded queue. A stream that falls ``queue_size`` events
behind is closed (``Subscription.overflowed``) rather than buffering without
bound; its client reconnects with ``Last-Event-ID`` and misses nothing, since
the stream replays from the log first (``live_feed``). Positions commit in
order (``storage/tables.py``), so polling ``after`` the last position read
never skips an event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.reads.event_pages import every_tenants_events_after, last_position
from connmgr.storage.reads.paging import MAX_LIMIT
from connmgr.storage.reads.views import EventView

POLL_S: Final = 0.2
QUEUE_SIZE: Final = 1000


@dataclass(eq=False)
class Subscription:
    """One stream's place in the fan-out: its tenant, its queue, whether it fell behind."""

    tenant: str
    queue: asyncio.Queue[EventView] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)


class LogFanout:
    """The process's one log reader (module doc); starts with the first subscription."""

    def __init__(self, engine: AsyncEngine, *, poll_s: float = POLL_S) -> None:
        self._engine = engine
        self._poll_s = poll_s
        self._by_tenant: dict[str, set[Subscription]] = defaultdict(set)
        self._head = 0
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    @property
    def head(self) -> int:
        """The last log position handed out."""
        return self._head

    def open_streams(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._by_tenant.values())

    async def subscribe(self, tenant: str) -> tuple[Subscription, int]:
        """A new subscription, and about where the fan-out stands: the stream replays
        from the log after that position, since an event read just before the
        subscription was added reaches it only through that replay."""
        async with self._starting:
            if not self._by_tenant:  # nobody listened: nothing to hand out before now
                self._head = await last_position(self._engine)
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run(), name="log-fanout")
            subscription = Subscription(tenant)
            self._by_tenant[tenant].add(subscription)
            return subscription, self._head

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self._by_tenant.get(subscription.tenant)
        if streams is not None:
            streams.discard(subscription)
            if not streams:
                del self._by_tenant[subscription.tenant]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        log = structlog.get_logger("connmgr.api")
        while True:
            try:
                more = await self._read_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: keep the streams, retry
                log.warning("api.log_fanout_failed", error_type=type(error).__name__)
                more = False
            if not more:
                await asyncio.sleep(self._poll_s)

    async def _read_once(self) -> bool:
        if not self._by_tenant:
            return False
        batch, more = await every_tenants_events_after(
            self._engine, after=self._head, limit=MAX_LIMIT
        )
        for tenant, event in batch:
            for subscription in tuple(self._by_tenant.get(tenant, ())):
                _offer(subscription, event)
            self._head = event.position
        return more


def _offer(subscription: Subscription, event: EventView) -> None:
    if subscription.overflowed.is_set():
        return
    try:
        subscription.queue.put_nowait(event)
    except asyncio.QueueFull:
        subscription.overflowed.set()
