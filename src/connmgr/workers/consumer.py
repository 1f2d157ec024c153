"""The pull-consumer adapter every pool shares: it alone owns acknowledgement.

Loop: fetch up to ``batch_size`` messages, hand them to ``process``, then ack
each message whose result is final and nak the others with a delay that grows
with the delivery count (a plain nak would redeliver at once: a hot loop).
When ``process`` raises (the database is unavailable, say) every message of the
batch is nak'd with that delay and nothing is acked. Long batches send
``in_progress`` so the server does not redeliver work that is still running.
With ``in_flight`` above 1 the next batch is fetched while earlier ones are still
being handled, each settled on its own, in any order (a pool whose handling of one
batch must see the last one committed says so itself: the encryptor re-reads its rows
under the chain head). On ``stop`` the loop finishes every batch in hand, settling
each, and returns.

No message stops the loop: one without JetStream metadata (a plain publish into
the pull inbox) or delivered by another stream or consumer than the one pulled
is dropped with a warning, never processed, acked or nak'd (``delivered_here``);
and a failing ack, nak or ``in_progress`` is logged and never stops the others
of the batch (``settle``).

Log context (``message_context``): the handling of a batch is bound to the
batch (``durable``, ``batch_size``, ``first_sequence``, ``last_sequence``), and
the settling of each message to that message's own fields, so ``batch_failed``
and ``settle_failed`` say which messages they concern. A pool that handles the
batch message by message binds each message itself (the encryptor does).
"""

from __future__ import annotations

import asyncio
import contextlib
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from connmgr.schemas.bus.consumers import ConsumerSpec
from connmgr.workers.message_context import batch_scope, message_scope
from connmgr.workers.metrics import observe_batch

log = structlog.get_logger("connmgr.consumer")

Process = Callable[[list[Msg]], Awaitable[list[bool]]]
"""Handles a batch; returns, per message, True when final (ack) or False (retry later)."""


def retry_delay(num_delivered: int) -> float:
    """Backoff for the next delivery: 1, 2, 4, … seconds, at most 30."""
    return float(min(2 ** max(num_delivered - 1, 0), 30))


async def fetch_batch(
    subscription: JetStreamContext.PullSubscription,
    count: int,
    timeout_s: float,
    stop: asyncio.Event,
) -> list[Msg]:
    """The next messages; empty on a quiet interval or while the server is away."""
    try:
        return await subscription.fetch(count, timeout=timeout_s)
    except (NatsTimeoutError, TimeoutError):
        return []
    except Exception:
        log.warning("fetch_failed", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        return []


def delivered_here(message: Msg, stream: str, durable: str) -> bool:
    """True when ``message`` is a JetStream delivery of this stream and durable.

    Anything else reached the pull inbox some other way: it is logged and dropped
    (neither acked nor nak'd: it is not ours to settle)."""
    try:
        metadata = message.metadata
    except Exception:
        log.warning("message_dropped", reason="not_jetstream", durable=durable)
        return False
    if metadata.stream != stream or metadata.consumer != durable:
        log.warning(
            "message_dropped",
            reason="foreign_delivery",
            durable=durable,
            from_stream=metadata.stream,
            from_consumer=metadata.consumer,
        )
        return False
    return True


async def settle(message: Msg, final: bool) -> None:
    """Ack a final message, nak the others with a growing delay; never raises."""
    try:
        if final:
            await message.ack()
        else:
            await message.nak(delay=retry_delay(message.metadata.num_delivered))
    except Exception:
        log.warning("settle_failed", final=final, exc_info=True)


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    batch_size: int
    fetch_timeout_s: float = 1.0
    in_flight: int = 1
    """Batches handled at once: the next is fetched while up to ``in_flight - 1`` others
    are still being handled."""


class BatchConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        spec: ConsumerSpec,
        process: Process,
        options: ConsumerOptions,
    ) -> None:
        self._js = js
        self._stream = stream
        self._spec = spec
        self._process = process
        self._options = options

    async def run(self, stop: asyncio.Event) -> None:
        subscription = await self._js.pull_subscribe_bind(
            durable=self._spec.durable, stream=self._stream
        )
        handling: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                if len(handling) >= self._options.in_flight:
                    _, handling = await asyncio.wait(handling, return_when=FIRST_COMPLETED)
                    continue
                batch = await fetch_batch(
                    subscription,
                    self._options.batch_size,
                    self._options.fetch_timeout_s,
                    stop,
                )
                batch = [
                    message
                    for message in batch
                    if delivered_here(message, self._stream, self._spec.durable)
                ]
                if batch:
                    observe_batch(self._spec.durable, batch)
                    handling.add(asyncio.create_task(self._handle(batch)))
            if handling:
                await asyncio.wait(handling)
        finally:
            for task in handling:
                task.cancel()
            await asyncio.gather(*handling, return_exceptions=True)
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _handle(self, batch: list[Msg]) -> None:
        with batch_scope(batch, self._spec.durable):
            results = await self._results(batch)
            for message, final in zip(batch, results, strict=True):
                with message_scope(message, self._spec.durable):
                    await settle(message, final)

    async def _results(self, batch: list[Msg]) -> list[bool]:
        """Per message, final or not; none is final when ``process`` fails."""
        ticker = asyncio.create_task(self._keep_alive(batch))
        try:
            results = await self._process(batch)
        except Exception:
            log.exception("batch_failed", size=len(batch))
            results = [False] * len(batch)
        finally:
            ticker.cancel()
        if len(results) != len(batch):
            log.error("batch_results_mismatch", size=len(batch), results=len(results))
            results = [False] * len(batch)
        return results

    async def _keep_alive(self, batch: list[Msg]) -> None:
        interval = max(self._spec.ack_wait_s / 3, 0.5)
        while True:
            await asyncio.sleep(interval)
            for message in batch:
                with contextlib.suppress(Exception):
                    await message.in_progress()
