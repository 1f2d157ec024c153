"""Sending one notification to a webhook channel, with retries, and when to give up.

A POST goes through the same path as the webhook check
(``checks.http_exchange.send``): the URL's host is resolved and every address
checked against the egress policy before anything is sent (a refused target
gets no request), TLS always verifies, the channel's auth method is applied,
redirects are answers (never followed), proxies are never used. Each attempt
is bounded by ``DeliveryPolicy.timeout_s`` and signed afresh.

Outcome of an attempt: a 2xx answer is *delivered*. A 401, 408, 425, 429 or
5xx answer and transport failures (timeout, refused connection, TLS, DNS) are
*retryable*; any other answer (a redirect, a 4xx) and an egress refusal or a
misconfigured channel are *permanent*: retrying cannot help, so the delivery
fails at once. Codes are stable (``http_503``, ``timeout``,
``refused_by_policy``, …) and never carry a body, header or secret.

Retries: ``with_retries`` makes up to ``attempts_per_delivery`` attempts within
one message delivery, waiting ``backoff_s``, then twice, four times as long in
between, each jittered down to as little as half (``connmgr.backoff``); then the
pool naks the message with the consumer's growing delay, and the next delivery
of it tries again, until ``max_attempts`` attempts in all (counted in the
delivery record across redeliveries) or the consumer's last delivery.

Each attempt is a ``webhook POST`` span (child of the notifier's span for the
alert) and the request carries its W3C ``traceparent`` header, never a
``tracestate`` (docs/decisions.md, "Traces across NATS hops").
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import aiohttp
import tenacity
from multidict import CIMultiDict
from opentelemetry.trace import SpanKind
from yarl import URL

from connmgr.backoff import Backoff
from connmgr.schemas.connection_auth import MtlsAuth
from connmgr.schemas.kinds import WebhookConfig
from connmgr.tracing.spans import hop, put_traceparent
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.http_auth import Authorizer
from connmgr.workers.checks.http_exchange import TlsTarget, send
from connmgr.workers.checks.http_oauth2 import TokenCache
from connmgr.workers.checks.http_outcomes import CheckFailure, failure_outcome
from connmgr.workers.checks.http_transport import Outgoing
from connmgr.workers.checks.net import Stopwatch
from connmgr.workers.egress import DnsFailure, Egress, EgressRefused
from connmgr.workers.notifier.channels import Channel
from connmgr.workers.notifier.formats import ChannelMisconfigured, render
from connmgr.workers.notifier.notices import AlertNotice

RETRYABLE_STATUSES: Final = frozenset({401, 408, 425, 429})
PERMANENT_OUTCOMES: Final = frozenset({Outcome.REFUSED_BY_POLICY, Outcome.CONFIG_ERROR})
_FAILURES: Final = (
    CheckFailure,
    EgressRefused,
    DnsFailure,
    TimeoutError,
    OSError,
    ssl.SSLError,
    aiohttp.ClientError,
)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard to try one channel. The defaults retry for about three minutes.

    ``max_attempts`` / ``attempts_per_delivery`` message deliveries must fit in
    the consumer's ``max_deliver`` (its last delivery gives up regardless).
    """

    attempts_per_delivery: int = 3
    max_attempts: int = 30
    backoff_s: float = 1.0
    timeout_s: float = 10.0

    def backoff(self) -> Backoff:
        """The waits between the attempts of one delivery: ``backoff_s``, then twice,
        four times as long, each jittered down to half (``connmgr.backoff``)."""
        return Backoff(self.backoff_s)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try: delivered, or a stable failure code and whether retrying may help."""

    delivered: bool
    code: str | None = None
    permanent: bool = False
    status: int | None = None

    @classmethod
    def failed(cls, code: str, *, permanent: bool, status: int | None = None) -> Attempt:
        return cls(False, code, permanent, status)

    @property
    def retryable(self) -> bool:
        """Neither delivered nor failed for good: another attempt may help."""
        return not (self.delivered or self.permanent)


@dataclass(frozen=True, slots=True)
class Tried:
    """The last attempt of a delivery and how many attempts it made."""

    last: Attempt
    attempts: int


async def with_retries(
    once: Callable[[], Awaitable[Attempt]], policy: DeliveryPolicy, budget: int
) -> Tried:
    """Up to ``budget`` attempts (one at least), ending at the first delivered or permanent."""
    made = 0

    async def counted() -> Attempt:
        nonlocal made
        made += 1
        return await once()

    retrying = policy.backoff().retrying(
        max(budget, 1), retry=tenacity.retry_if_result(lambda attempt: attempt.retryable)
    )
    attempt: Attempt = await retrying(counted)
    return Tried(attempt, made)


def status_attempt(status: int) -> Attempt:
    if 200 <= status < 300:
        return Attempt(True, status=status)
    retryable = status in RETRYABLE_STATUSES or status >= 500
    return Attempt.failed(f"http_{status}", permanent=not retryable, status=status)


def failure_attempt(error: BaseException, *, client_certificate: bool) -> Attempt:
    outcome, _ = failure_outcome(error, sent_client_certificate=client_certificate)
    return Attempt.failed(outcome.value, permanent=outcome in PERMANENT_OUTCOMES)


class WebhookSender:
    """Delivers to ``webhook`` channels; one per pool (it caches OAuth2 tokens)."""

    def __init__(
        self, egress: Egress, policy: DeliveryPolicy, clock: Callable[[], float] = time.time
    ) -> None:
        self._egress = egress
        self._policy = policy
        self._clock = clock
        self._tokens = TokenCache()

    async def send(self, channel: Channel, notice: AlertNotice) -> Attempt:
        config = channel.target.config
        if not isinstance(config, WebhookConfig) or channel.unusable:
            return Attempt.failed(Outcome.CONFIG_ERROR.value, permanent=True)
        try:
            payload = render(
                channel.format,
                notice,
                channel.target.secrets,
                signature_header=config.signature_header,
                now=self._clock(),
            )
        except ChannelMisconfigured:
            return Attempt.failed(Outcome.CONFIG_ERROR.value, permanent=True)
        attributes = {"connmgr.channel_format": channel.format.value}
        with hop("webhook POST", notice.traceparent, SpanKind.CLIENT, attributes) as traceparent:
            headers = put_traceparent(dict(payload.headers), traceparent)
            request = Outgoing("POST", URL(config.url), CIMultiDict(headers), payload.body)
            return await self._post(channel, config, request)

    async def _post(self, channel: Channel, config: WebhookConfig, request: Outgoing) -> Attempt:
        authorizer = Authorizer(channel.target, tokens=self._tokens, clock=self._clock)
        mtls = isinstance(channel.target.auth, MtlsAuth)
        timeout_s = self._policy.timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                reply = await send(
                    self._egress,
                    request,
                    authorizer=authorizer,
                    tls=TlsTarget(config.ca_pem, config.server_name),
                    timeout_s=timeout_s,
                    watch=Stopwatch(),
                )
        except _FAILURES as error:
            return failure_attempt(error, client_certificate=mtls)
        return status_attempt(reply.status)
