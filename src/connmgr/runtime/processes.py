"""One process per pool (``connmgr worker <pool>``) and the API (``connmgr api``).

Once a process has started (its pool running, its API bound) its start-up heap is
settled (``heap``): the collector leaves those objects alone from then on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

import structlog

from connmgr.runtime.health import HealthState, keep_beating, keep_checking
from connmgr.runtime.health_server import ProbeServer, probe_routes
from connmgr.runtime.heap import settle_heap
from connmgr.runtime.pool_startup import Resources, start_pool
from connmgr.runtime.pools import (
    bound_url,
    close_nats,
    connect_nats,
    pool_engine,
    preflight_keyring,
    run_until_stopped,
    serve_api,
)
from connmgr.runtime.readiness import readiness_check
from connmgr.runtime.signals import stop_on_signals
from connmgr.runtime.supervision import PoolLoop, PoolStatus, start_with_retries, supervised
from connmgr.schemas.settings import Settings
from connmgr.storage.schema_upgrade import upgrade_schema
from connmgr.workers.backlog import keep_reading_backlog
from connmgr.workers.metrics import declare_pool

log = structlog.get_logger("connmgr.runtime")
T = TypeVar("T")


async def run_worker_process(settings: Settings, pool: str) -> int:
    """Run one pool until SIGTERM/SIGINT; a failing loop is restarted (``supervision``).

    A fatal configuration error (key ring, settings) exits at start-up. The probe
    port (``health_port``; 0: none) serves from before the first NATS connection
    to the end, so an orchestrator sees a worker that waits for its broker as
    alive and not ready. SIGTERM also ends the wait for a broker that never came.
    """
    stop = stop_on_signals()
    keyring = preflight_keyring((pool,), settings)
    engine = pool_engine(settings, pool)
    status = PoolStatus()
    health = HealthState(status, stop)
    declare_pool(pool)
    server = ProbeServer(settings.health_host, settings.health_port, probe_routes(health, pool))
    if settings.health_port:
        server.start()
    beating = asyncio.create_task(keep_beating(health))
    try:
        nc = await _unless_stopped(connect_nats(settings, pool), stop)
        if nc is not None:
            await _run_pool(pool, settings, Resources(nc, engine, keyring), stop, health)
        log.info("pool_stopped", pool=pool)
    finally:
        health.ended = True
        beating.cancel()
        await asyncio.to_thread(server.stop)
        await engine.dispose()
    return 0


async def _run_pool(
    pool: str, settings: Settings, resources: Resources, stop: asyncio.Event, health: HealthState
) -> None:
    """Start the pool (retrying), then run it; readiness is checked once it started."""
    check = readiness_check(pool, resources.nc, resources.engine)
    checking: asyncio.Task[None] | None = None
    backlog: asyncio.Task[None] | None = None

    async def start() -> PoolLoop:
        await upgrade_schema(resources.engine)
        return await start_pool(pool, settings, resources)

    try:
        loop = await start_with_retries(pool, start, stop, status=health.status)
        if loop is not None:
            log.info("pool_started", pool=pool)
            settle_heap()
            checking = asyncio.create_task(keep_checking(health, check, stop))
            backlog = asyncio.create_task(
                keep_reading_backlog(
                    resources.nc.jetstream(),
                    resources.engine,
                    pool,
                    settings.metrics_interval_s,
                    stop,
                )
            )
            running = supervised(pool, loop, start, status=health.status)
            await run_until_stopped(running, stop, settings.shutdown_grace_s)
    finally:
        for task in (checking, backlog):
            if task is not None:
                task.cancel()
        await close_nats(resources.nc)


async def _unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or None (``work`` cancelled) when ``stop`` comes first."""
    task = asyncio.create_task(work)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def run_worker(settings: Settings, args: argparse.Namespace) -> int:
    """``connmgr worker <pool>``."""
    return await run_worker_process(settings, args.pool)


async def run_api(settings: Settings, _args: argparse.Namespace) -> int:
    """``connmgr api``."""
    return await run_api_process(settings)


async def run_api_process(settings: Settings) -> int:
    stop = stop_on_signals()
    runner = await serve_api(settings)
    log.info("api_started", url=bound_url(runner))
    settle_heap()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0
