"""Where the probers are: consumer state, probe states, and a progress line on stderr.

``Progress`` follows a run from the moment the probers start: the schedule
messages they publish (``ScheduleWatch``), the schedule keeper's and the
prober's durable consumers, and the ``probe_state`` rows (one per connection,
written with its first check). Every ``PROGRESS_S`` it notes one line, so a slow
or stuck run shows where its time goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from bench.harness import Stack, count_rows, note, poll
from bench.prober.fleet import ScheduleWatch
from bench.prober.meters import stop_loop
from connmgr.schemas.bus.consumers import PROBE_FIRINGS_CONSUMER, SCHEDULE_KEEPER_CONSUMER
from connmgr.schemas.bus.streams import EVENT_STREAM, SCHEDULE_STREAM
from connmgr.storage.tables import probe_state, samples

PROGRESS_S: Final = 10.0
POLL_S: Final = 0.1


class Progress:
    def __init__(self, stack: Stack, js: JetStreamContext, watch: ScheduleWatch) -> None:
        self.stack = stack
        self.js = js
        self.watch = watch
        self._reporter: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self, nc: NatsClient) -> None:
        await self.watch.start(nc)
        self._reporter = asyncio.create_task(self._report())

    async def stop(self) -> None:
        await stop_loop(self._reporter, self._stopping)
        await self.watch.stop()

    async def prober_consumer(self) -> ConsumerInfo:
        info: ConsumerInfo = await self.js.consumer_info(
            SCHEDULE_STREAM, PROBE_FIRINGS_CONSUMER.durable
        )
        return info

    async def keeper_drained(self) -> bool:
        """The schedule keeper has handled every relayed event (False until it exists)."""
        try:
            info = await self.js.consumer_info(EVENT_STREAM, SCHEDULE_KEEPER_CONSUMER.durable)
        except Exception:
            return False
        return not info.num_pending and not info.num_ack_pending

    async def redelivered(self) -> int:
        return int((await self.prober_consumer()).num_redelivered or 0)

    async def probed(self) -> int:
        """Connections with a probe state: those whose first check is written."""
        return await count_rows(self.stack.engine, probe_state)

    async def until_steady(self, connections: int, bound_s: float) -> None:
        """Until every connection has been checked once and no check waits to be
        delivered; after ``bound_s`` it notes the backlog and returns anyway."""

        async def steady() -> str | None:
            info = await self.prober_consumer()
            done = not info.num_pending and await self.probed() >= connections
            return None if done else "not steady"

        if await poll(steady, self.stack.check_running, bound_s, POLL_S) is None:
            return
        info = await self.prober_consumer()
        note(
            f"not steady after {bound_s:.0f}s of warm-up ({await self.probed()} of "
            f"{connections} checked, {info.num_pending} checks waiting): measuring anyway"
        )

    async def _report(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), PROGRESS_S)
                return
            with contextlib.suppress(Exception):
                info = await self.prober_consumer()
                keeper = await self.js.consumer_info(EVENT_STREAM, SCHEDULE_KEEPER_CONSUMER.durable)
                rows = await count_rows(self.stack.engine, samples)
                note(
                    f"progress: {len(self.watch.last_put)} scheduled, {rows} samples, checks "
                    f"waiting {info.num_pending}, in flight {info.num_ack_pending}; "
                    f"keeper events waiting {keeper.num_pending}"
                )
