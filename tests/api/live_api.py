"""The API served on a real port from a thread of its own, for clients that block (Schemathesis).

``LiveApi.started(database)`` runs an event loop in a thread: it opens the database
(``database`` is an async context manager giving its URL, so a throw-away PostgreSQL
database is created and dropped on that loop), migrates and seeds it, and serves
``create_app`` through ``ProblemAppRunner`` (as ``connmgr api`` does) on
``127.0.0.1`` with an ephemeral port, until the block exits.

The seeded data: two tenants, ``acme`` (the caller) and ``globex`` (the neighbour
whose data must never show), connections of several health statuses, their event
histories with sealed secrets, a rejection, status changes and alerts, samples over
the last hours and their roll-ups, and the tokens to read them.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api import create_app
from connmgr.api.serving import ProblemAppRunner
from connmgr.schemas.settings import Settings
from connmgr.storage.samples import roll_up
from connmgr.storage.tokens import issue_operator_token, issue_token
from support.databases import migrated_engine
from support.health_events import HealthEvents
from support.samples import SampleBuilder, store
from support.seeds import Seed

STARTUP_TIMEOUT_S: Final = 60.0
_STATUSES: Final = ("healthy", "degraded", "down", "unknown")
ACME_IDS: Final = tuple(f"a0000000-0000-4000-8000-00000000000{i}" for i in range(len(_STATUSES)))
"""Tenant ``acme``'s connections, one per status of ``_STATUSES``: fixed, so that a
document can name them as examples before the API starts."""
GLOBEX_ID: Final = "b0000000-0000-4000-8000-000000000000"
"""Tenant ``globex``'s connection, which ``acme`` must never see."""

Database = Callable[[], AbstractAsyncContextManager[str]]


@dataclass(frozen=True)
class SeededData:
    """Tokens ``LiveApi`` issued, in plaintext (its connections: ``ACME_IDS``, ``GLOBEX_ID``)."""

    tenant_token: str
    """``acme``, every tenant scope."""
    operator_token: str
    """``metrics:read`` only."""


@dataclass(frozen=True)
class LiveApi:
    base_url: str
    data: SeededData

    @classmethod
    @contextmanager
    def started(cls, database: Database) -> Iterator[LiveApi]:
        """Serve the API on freshly seeded storage until the block exits."""
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        started = threading.Event()
        result: list[LiveApi | BaseException] = []

        async def serve() -> None:
            try:
                async with database() as url, migrated_engine(url) as engine:
                    data = await _seed(engine)
                    runner = ProblemAppRunner(
                        create_app(Settings(database_url=url), engine=engine), access_log=None
                    )
                    await runner.setup()
                    try:
                        site_port = await _start_site(runner)
                        result.append(cls(f"http://127.0.0.1:{site_port}", data))
                        started.set()
                        await stop.wait()
                    finally:
                        await runner.cleanup()
            except BaseException as error:
                result.append(error)
                started.set()

        thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
        thread.start()
        try:
            if not started.wait(STARTUP_TIMEOUT_S):
                raise TimeoutError("the live API did not start")
            outcome = result[0]
            if isinstance(outcome, BaseException):
                raise RuntimeError("the live API failed to start") from outcome
            yield outcome
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(STARTUP_TIMEOUT_S)
            loop.close()


async def _start_site(runner: ProblemAppRunner) -> int:
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port: int = runner.addresses[0][1]
    return port


async def _health(seed: Seed, now: datetime) -> None:
    """Status changes and alerts: one resolved and one open for acme, one for globex."""
    health = HealthEvents(seed, Counter({GLOBEX_ID: 4}))  # after globex's history
    down = ACME_IDS[2]
    await health.changed(down, "healthy", "down", now - timedelta(hours=2))
    first = await health.raised(down, now - timedelta(hours=2))
    await health.resolved(down, first, now - timedelta(hours=2), now - timedelta(hours=1))
    await health.raised(down, now - timedelta(minutes=30))
    await health.raised(GLOBEX_ID, now - timedelta(minutes=10), tenant="globex")


async def _seed(engine: AsyncEngine) -> SeededData:
    seed = Seed(engine)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for identifier, status in zip(ACME_IDS, _STATUSES, strict=True):
        await seed.connection(
            f"acme-{status}", status=status, tags=["prod"], connection_id=identifier
        )
    await seed.connection("globex-db", tenant="globex", status="down", connection_id=GLOBEX_ID)
    for identifier in ACME_IDS[:2]:
        await seed.history(identifier)
    await seed.history(GLOBEX_ID, tenant="globex")
    await seed.rejection(ACME_IDS[0])
    await _health(seed, now)
    build = SampleBuilder()
    start = now - timedelta(hours=3)
    for identifier in ACME_IDS[:3]:
        moments = [start + i * timedelta(minutes=7) for i in range(30)]
        samples = [build.at(m, 10.0 + i, connection_id=identifier) for i, m in enumerate(moments)]
        await store(engine, samples)
    await store(engine, [build.at(now, 5.0, connection_id=GLOBEX_ID, tenant="globex")])
    await roll_up(engine, now=now)
    return SeededData(
        tenant_token=await issue_token(engine, "acme-reader", "acme", ["read"]),
        operator_token=await issue_operator_token(engine, "scraper"),
    )
