"""One process per pool (``connmgr worker <pool>``) and the API (``connmgr api``)."""

from __future__ import annotations

import structlog

from connmgr.runtime.pools import (
    Resources,
    bound_url,
    close_nats,
    connect_nats,
    pool_engine,
    preflight_keyring,
    run_until_stopped,
    serve_api,
    start_pool,
)
from connmgr.runtime.signals import stop_on_signals
from connmgr.runtime.supervision import PoolLoop, start_with_retries, supervised
from connmgr.schemas.settings import Settings
from connmgr.storage.database import migrate

log = structlog.get_logger("connmgr.runtime")


async def run_worker_process(settings: Settings, pool: str) -> int:
    """Run one pool until SIGTERM/SIGINT; a failing loop is restarted (``supervision``).

    A fatal configuration error (key ring, settings) exits at start-up."""
    stop = stop_on_signals()
    keyring = preflight_keyring((pool,), settings)
    engine = pool_engine(settings, pool)
    nc = await connect_nats(settings, pool)
    resources = Resources(nc, engine, keyring)

    async def start() -> PoolLoop:
        await migrate(engine)
        return await start_pool(pool, settings, resources)

    try:
        loop = await start_with_retries(pool, start, stop)
        if loop is not None:
            log.info("pool_started", pool=pool)
            await run_until_stopped(supervised(pool, loop, start), stop, settings.shutdown_grace_s)
        log.info("pool_stopped", pool=pool)
    finally:
        await close_nats(nc)
        await engine.dispose()
    return 0


async def run_api_process(settings: Settings) -> int:
    stop = stop_on_signals()
    runner = await serve_api(settings)
    log.info("api_started", url=bound_url(runner))
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0
