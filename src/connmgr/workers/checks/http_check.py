"""The scaffolding of the HTTP-based checks (``http``, ``webhook``): config, auth, bound.

A subclass names its config type and implements ``_attempt``: one exchange
through ``http_exchange.send`` turned into a result. ``run`` checks the config
type (another kind's config is a ``config_error``), builds the auth method's
``Authorizer`` and runs the attempt within ``target.timeout_s``; every expected
failure becomes its outcome (``http_outcomes``), only a bug raises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Final, Generic, TypeVar

import aiohttp

from connmgr.schemas.connection_auth import MtlsAuth
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http_auth import Authorizer
from connmgr.workers.checks.http_oauth2 import TokenCache
from connmgr.workers.checks.http_outcomes import failure_outcome
from connmgr.workers.checks.net import Stopwatch
from connmgr.workers.egress import DnsFailure, Egress, EgressRefused

ConfigT = TypeVar("ConfigT")
_EXPECTED_FAILURES: Final = (CheckFailed, EgressRefused, DnsFailure, OSError, aiohttp.ClientError)


class HttpBasedCheck(Generic[ConfigT]):
    """A check of one HTTP exchange; ``tokens`` caches OAuth 2 tokens across runs."""

    config_type: ClassVar[type[Any]]
    wrong_config: ClassVar[str]

    def __init__(
        self,
        egress: Egress,
        *,
        tokens: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._egress = egress
        self._tokens = tokens if tokens is not None else TokenCache()
        self._clock = clock

    async def run(self, target: CheckTarget) -> CheckResult:
        watch = Stopwatch()
        config = target.config
        if not isinstance(config, self.config_type):
            return watch.result(Outcome.CONFIG_ERROR, self.wrong_config)
        authorizer = Authorizer(target, tokens=self._tokens, clock=self._clock)

        async def attempt() -> CheckResult:
            return await self._attempt(target, config, authorizer, watch)

        mtls = isinstance(target.auth, MtlsAuth)
        return await run_bounded(target, watch, attempt, client_certificate=mtls)

    async def _attempt(
        self, target: CheckTarget, config: ConfigT, authorizer: Authorizer, watch: Stopwatch
    ) -> CheckResult:
        raise NotImplementedError


async def run_bounded(
    target: CheckTarget,
    watch: Stopwatch,
    attempt: Callable[[], Awaitable[CheckResult]],
    *,
    client_certificate: bool,
) -> CheckResult:
    """``attempt()`` within ``target.timeout_s``; an expected failure becomes its outcome."""
    try:
        async with asyncio.timeout(target.timeout_s):
            return await attempt()
    except _EXPECTED_FAILURES as error:
        outcome, detail = failure_outcome(error, sent_client_certificate=client_certificate)
        return watch.result(outcome, detail)
