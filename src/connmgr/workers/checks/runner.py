"""Runs checks under bounds: a global concurrency limit, a per-target cap and a timeout.

One slow or black-holed target can hold at most ``per_target`` slots; the rest
of the pool keeps going. A check that overruns its timeout is cancelled and
reported as ``timeout``; a check that crashes (a bug) is reported as
``protocol_error`` with a fixed sentence, and logged without its secrets.
Each check is a span (child of the pool's current one) with a child span per
measured phase (``check_spans``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Final

import structlog

from connmgr.schemas.kinds import Kind
from connmgr.workers.checks.base import Check, CheckResult, CheckTarget, Outcome
from connmgr.workers.checks.check_spans import check_span, end_check_span

log = structlog.get_logger("connmgr.checks")
TIMEOUT_MARGIN_S: Final = 0.5


class CheckRunner:
    def __init__(self, checks: Mapping[Kind, Check], concurrency: int, per_target: int) -> None:
        self._checks = checks
        self._slots = asyncio.Semaphore(concurrency)
        self._per_target = per_target
        self._targets: dict[tuple[str, int | None], tuple[asyncio.Semaphore, int]] = {}

    async def run(self, target: CheckTarget) -> CheckResult:
        check = self._checks.get(target.kind)
        if check is None:
            return CheckResult(Outcome.CONFIG_ERROR, "this kind cannot be checked here", 0.0)
        async with self._target_slot(target.config.target()), self._slots:
            return await self._bounded(check, target)

    async def _bounded(self, check: Check, target: CheckTarget) -> CheckResult:
        """The check under its timeout, in its span with one child per phase."""
        with check_span(target.kind.value) as span:
            started_ns = time.time_ns()  # after the span's start: phases lie inside it
            result = await self._guarded(check, target)
            end_check_span(span, result, started_ns)
        return result

    async def _guarded(self, check: Check, target: CheckTarget) -> CheckResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(target.timeout_s + TIMEOUT_MARGIN_S):
                return await check.run(target)
        except TimeoutError:
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            return CheckResult(
                Outcome.TIMEOUT, "the target did not answer within the timeout", elapsed
            )
        except Exception:
            log.exception(
                "check_crashed", kind=target.kind.value, connection_id=target.connection_id
            )
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            return CheckResult(Outcome.PROTOCOL_ERROR, "the check failed unexpectedly", elapsed)

    @contextlib.asynccontextmanager
    async def _target_slot(self, key: tuple[str, int | None]) -> AsyncIterator[None]:
        semaphore, users = self._targets.get(key, (asyncio.Semaphore(self._per_target), 0))
        self._targets[key] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._targets[key]
            if users == 1:
                del self._targets[key]
            else:
                self._targets[key] = (semaphore, users - 1)
