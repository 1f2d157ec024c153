"""The load generator's client: publishes planned commands and records every attempt.

Each attempt ends ``ok`` (a PubAck: JetStream stored it), ``failed`` (the server
or the client says it was not sent: no responders, an API error, a closed
connection) or ``unknown`` (a timeout or any other error: it may have been
stored). A command whose attempt was not ``ok`` is published again with the SAME
``Nats-Msg-Id``, at most ``attempts`` times, as a producer must (``docs/reliability.md``
I6). Publishing is paced to ``rate_per_s`` with at most ``in_flight`` at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from enum import StrEnum

from nats.aio.client import Client as NatsClient
from nats.errors import ConnectionClosedError, NoRespondersError, OutboundBufferLimitError
from nats.js.errors import APIError, NoStreamResponseError

from connmgr.schemas.bus.headers import MSG_ID_HEADER
from faultkit.load import PlannedCommand

NOT_SENT = (
    APIError,
    NoStreamResponseError,
    NoRespondersError,
    ConnectionClosedError,
    OutboundBufferLimitError,
)


class Attempt(StrEnum):
    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass
class Publication:
    command: PlannedCommand
    attempts: list[Attempt] = field(default_factory=list)
    sent_at: float | None = None
    acked_at: float | None = None
    sequence: int | None = None  # in the command stream, from the PubAck

    @property
    def status(self) -> Attempt:
        return self.attempts[-1] if self.attempts else Attempt.UNKNOWN

    @property
    def maybe_stored(self) -> bool:
        """Some attempt may have reached the stream (ok or unknown)."""
        return any(a is not Attempt.FAILED for a in self.attempts)


@dataclass
class History:
    """Every publication of a test, plus outcomes the test wrote itself (``direct``)."""

    publications: dict[str, Publication] = field(default_factory=dict)
    direct: set[str] = field(default_factory=set)

    def begin(self, command: PlannedCommand) -> Publication:
        publication = Publication(command)
        self.publications[command.command_id] = publication
        return publication

    def done(self) -> int:
        return sum(1 for p in self.publications.values() if p.attempts)

    def with_status(self, status: Attempt) -> list[Publication]:
        return [p for p in self.publications.values() if p.attempts and p.status is status]


@dataclass(frozen=True, slots=True)
class PublishPolicy:
    rate_per_s: float = 200.0
    in_flight: int = 32
    timeout_s: float = 2.0
    attempts: int = 8
    first_backoff_s: float = 0.25
    max_backoff_s: float = 2.0


class Publisher:
    def __init__(self, nc: NatsClient, history: History, policy: PublishPolicy) -> None:
        self._js = nc.jetstream()
        self._history = history
        self._policy = policy
        self._slots = asyncio.Semaphore(policy.in_flight)

    async def publish_all(self, commands: list[PlannedCommand]) -> None:
        started = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        for index, planned in enumerate(commands):
            ahead = started + index / self._policy.rate_per_s - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)  # pacing the load, not waiting for an effect
            await self._slots.acquire()
            tasks.append(asyncio.create_task(self._publish(self._history.begin(planned))))
        await asyncio.gather(*tasks)

    def start(self, commands: list[PlannedCommand]) -> asyncio.Task[None]:
        return asyncio.create_task(self.publish_all(commands))

    async def publish_one(self, planned: PlannedCommand) -> Publication:
        await self._slots.acquire()
        publication = self._history.begin(planned)
        await self._publish(publication)
        return publication

    async def _publish(self, publication: Publication) -> None:
        publication.sent_at = time.time()
        try:
            backoff = self._policy.first_backoff_s
            for _ in range(self._policy.attempts):
                result = await self._attempt(publication)
                publication.attempts.append(result)
                if result is Attempt.OK:
                    publication.acked_at = time.time()
                    return
                await asyncio.sleep(backoff)  # the producer's retry backoff
                backoff = min(backoff * 2, self._policy.max_backoff_s)
        finally:
            self._slots.release()

    async def _attempt(self, publication: Publication) -> Attempt:
        planned = publication.command
        try:
            ack = await self._js.publish(
                planned.subject,
                planned.data,
                timeout=self._policy.timeout_s,
                headers={MSG_ID_HEADER: planned.command_id},
            )
        except NOT_SENT:
            return Attempt.FAILED
        except Exception:
            return Attempt.UNKNOWN
        publication.sequence = ack.seq
        return Attempt.OK
