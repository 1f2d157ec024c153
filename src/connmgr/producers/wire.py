"""The two halves of a request over JetStream: a retrying publish and a reply inbox.

A command is published with ``Nats-Msg-Id`` = its command id. When the publish
ack is lost (timeout, reconnect, no stream leader yet), ``RetryingPublisher``
re-publishes the same bytes with the same id, and the stream's duplicate window
stores the command once. Outcomes arrive on one wildcard subscription per
producer (``_INBOX.<nuid>.*``), made before any command is published, and each
command waits on its own token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import nats.errors
import nats.js.errors
import structlog
import tenacity
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import PubAck

from connmgr.backoff import Backoff
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.tracing.spans import put_traceparent

from .errors import PublishFailed

log = structlog.get_logger(__name__)

TRANSIENT_PUBLISH_ERRORS: tuple[type[Exception], ...] = (
    nats.errors.TimeoutError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)


class JetStreamPublish(Protocol):
    """The one JetStream call the publisher needs (``JetStreamContext`` fits)."""

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - nats-py's own signature
        stream: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> PubAck: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try for a publish ack: attempts, ack timeout, and the waits in between:
    from ``backoff_s``, doubling up to ``max_backoff_s``, jittered (``connmgr.backoff``)."""

    attempts: int = 5
    ack_timeout_s: float = 2.0
    backoff_s: float = 0.1
    max_backoff_s: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.ack_timeout_s <= 0 or self.backoff_s < 0:
            raise ValueError("a retry policy needs attempts >= 1 and a positive ack timeout")


class RetryingPublisher:
    """Publishes to one stream; a message is stored at most once per ``msg_id``.

    Transient failures are retried with the same bytes and the same id; any other
    NATS error, or running out of attempts, raises ``PublishFailed``.
    """

    def __init__(self, js: JetStreamPublish, stream: str, policy: RetryPolicy) -> None:
        self._js = js
        self._stream = stream
        self._policy = policy
        self._backoff = Backoff(policy.backoff_s, policy.max_backoff_s)

    async def publish(
        self, subject: str, body: bytes, msg_id: str, traceparent: str | None = None
    ) -> PubAck:
        """Publish until acknowledged; ``PubAck.duplicate`` is true for a re-publish.
        ``traceparent`` (valid, from ``connmgr.tracing``) goes in its W3C header."""
        policy = self._policy

        def retried(state: tenacity.RetryCallState) -> None:
            error = type(state.outcome.exception() if state.outcome else None).__name__
            log.warning(
                "publish_retry", command_id=msg_id, attempt=state.attempt_number, error=error
            )

        retrying = self._backoff.retrying(
            policy.attempts,
            retry=tenacity.retry_if_exception_type(TRANSIENT_PUBLISH_ERRORS),
            after=retried,
        )
        try:
            return await retrying(
                self._js.publish,
                subject,
                body,
                timeout=policy.ack_timeout_s,
                stream=self._stream,
                headers=put_traceparent({MSG_ID_HEADER: msg_id}, traceparent),
            )
        except TRANSIENT_PUBLISH_ERRORS as error:
            raise PublishFailed(msg_id, policy.attempts, type(error).__name__) from None
        except nats.errors.Error as error:
            attempt = int(retrying.statistics["attempt_number"])
            raise PublishFailed(msg_id, attempt, type(error).__name__) from None


class ReplyInbox:
    """One wildcard inbox subscription; ``expect(token)`` yields a future for one reply.

    A reply for a token nobody expects (late, after a timeout) is dropped.
    """

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox()
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        """Subscribe and flush, so the server knows the interest before any publish."""
        self._subscription = await self._nc.subscribe(f"{self._prefix}.*", cb=self._deliver)
        await self._nc.flush()

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    def subject_for(self, token: str) -> str:
        return f"{self._prefix}.{token}"

    @contextmanager
    def expect(self, token: str) -> Iterator[asyncio.Future[bytes]]:
        """Register a waiter for ``token`` (before publishing); removed on exit."""
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[token] = waiter
        try:
            yield waiter
        finally:
            self._waiting.pop(token, None)

    async def _deliver(self, msg: Msg) -> None:
        waiter = self._waiting.get(msg.subject.rpartition(".")[2])
        if waiter is not None and not waiter.done():
            waiter.set_result(msg.data)
