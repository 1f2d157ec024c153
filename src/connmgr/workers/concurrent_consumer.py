"""A pull consumer that keeps up to ``max_in_flight`` messages in work at once.

For pools whose work is slow I/O (tests, checks): each message is handled in
its own task and acked or nak'd (with a growing delay) by this adapter alone
once its handler returns; long handlers send ``in_progress``. On ``stop`` it
fetches nothing more and waits for the messages in hand. A message that is not
a delivery of this stream and durable is dropped with a warning, never handled
(``delivered_here``); a failing ack or nak is logged (``settle``).

Each message is handled, settled and, if its handler raises, logged
(``message_failed``) inside its own log context (``message_context``): every
line its handling logs carries its tenant, connection, command or event id,
correlation id, stream sequence and delivery count.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Final

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from connmgr.schemas.bus.consumers import ConsumerSpec
from connmgr.workers.consumer import delivered_here, fetch_batch, settle
from connmgr.workers.message_context import message_scope
from connmgr.workers.metrics import observe_batch

log = structlog.get_logger("connmgr.consumer")
FETCH_TIMEOUT_S: Final = 1.0
"""How long one pull request waits at the server for messages (its expiry)."""

Handle = Callable[[Msg], Awaitable[bool]]
"""Handles one message; True when final (ack), False to retry it later (nak with delay)."""


class ConcurrentConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        spec: ConsumerSpec,
        handle: Handle,
        max_in_flight: int,
    ) -> None:
        self._js = js
        self._stream = stream
        self._spec = spec
        self._handle = handle
        self._max_in_flight = max_in_flight
        self._in_flight: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        subscription = await self._js.pull_subscribe_bind(
            durable=self._spec.durable, stream=self._stream
        )
        try:
            while not stop.is_set():
                free = self._max_in_flight - len(self._in_flight)
                if free <= 0:
                    await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                fetched = await fetch_batch(subscription, min(free, 256), FETCH_TIMEOUT_S, stop)
                batch = [m for m in fetched if delivered_here(m, self._stream, self._spec.durable)]
                if batch:
                    observe_batch(self._spec.durable, batch)
                for message in batch:
                    task = asyncio.create_task(self._one(message))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _one(self, message: Msg) -> None:
        with message_scope(message, self._spec.durable):
            ticker = asyncio.create_task(self._keep_alive(message))
            try:
                final = await self._handle(message)
            except Exception:
                log.exception("message_failed")
                final = False
            finally:
                ticker.cancel()
            await settle(message, final)

    async def _keep_alive(self, message: Msg) -> None:
        while True:
            await asyncio.sleep(max(self._spec.ack_wait_s / 3, 0.5))
            with contextlib.suppress(Exception):
                await message.in_progress()
