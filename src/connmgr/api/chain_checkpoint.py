"""The chain's last verified checkpoint: ``GET /api/audit/checkpoint``.

The hash chain is global (one chain over every tenant's events, docs/security.md,
"The log is evidence"), so no tenant can verify it from its own events. Each API
process verifies it every ``CONNMGR_API_CHAIN_VERIFY_INTERVAL_S``
(``storage.audit.verify_chain``) and keeps the outcome: up to which position it
held, and when. A round goes on from the position the last one verified (the
events appended since, and the hash at that position unchanged); the whole chain,
which is what catches a rewritten older event, is walked on the first round, after
a break, and every ``CONNMGR_API_CHAIN_FULL_VERIFY_INTERVAL_S``
(``whole_chain_at``). The route shows only that (positions and times, and where it
broke if it did), never an event, a hash or another tenant's data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.audit import verify_chain
from connmgr.storage.event_log import ChainHead

VERIFY_INTERVAL_S: Final = 60.0
WHOLE_INTERVAL_S: Final = 3600.0


class ChainCheckpoint(BaseModel):
    """The last walk of the chain: ``position`` is where it held up to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verified: bool
    """False until this process has walked the chain once."""
    ok: bool | None
    position: int
    verified_at: datetime | None
    broken_at: int | None = None
    """The first position that did not link, when the walk failed."""
    whole_chain_at: datetime | None = None
    """When this process last walked the whole chain and it held."""


NOT_YET: Final = ChainCheckpoint(verified=False, ok=None, position=0, verified_at=None)


@dataclass
class ChainVerifier:
    engine: AsyncEngine
    interval_s: float = VERIFY_INTERVAL_S
    whole_interval_s: float = WHOLE_INTERVAL_S
    last: ChainCheckpoint = NOT_YET
    _anchor: ChainHead | None = field(default=None, init=False, repr=False)
    """Where the last round held: the next one goes on from there."""
    _whole_at: float | None = field(default=None, init=False, repr=False)
    """When (``time.monotonic``) the whole chain last held."""

    async def verify_once(self) -> ChainCheckpoint:
        """One round: onward from the last verified position, or the whole chain when
        it is due (module docstring)."""
        now = time.monotonic()
        whole = (
            self._anchor is None
            or self._whole_at is None
            or now - self._whole_at >= self.whole_interval_s
        )
        report = await verify_chain(self.engine, since=None if whole else self._anchor)
        verified_at = datetime.now(UTC)
        self._anchor = ChainHead(report.events_checked, report.last_hash) if report.ok else None
        whole_chain_at = self.last.whole_chain_at
        if whole and report.ok:
            self._whole_at, whole_chain_at = now, verified_at
        self.last = ChainCheckpoint(
            verified=True,
            ok=report.ok,
            position=report.events_checked,
            verified_at=verified_at,
            broken_at=report.first_bad_position,
            whole_chain_at=whole_chain_at,
        )
        if not report.ok:
            structlog.get_logger("connmgr.api").error(
                "api.chain_broken", position=report.first_bad_position, problem=report.problem
            )
        return self.last

    async def run(self) -> None:
        """A round every ``interval_s``, the first one interval after start (a
        process starting is no moment to read the whole log)."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.verify_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: keep the last outcome
                structlog.get_logger("connmgr.api").warning(
                    "api.chain_verify_failed", error_type=type(error).__name__
                )


async def running(verifier: ChainVerifier) -> AsyncIterator[None]:
    """Walk the chain periodically for as long as the application runs."""
    task = asyncio.create_task(verifier.run(), name="chain-verifier")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def answer(verifier: ChainVerifier) -> web.Response:
    body = verifier.last.model_dump_json().encode()
    return web.Response(body=body, content_type="application/json")
