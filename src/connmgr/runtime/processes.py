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
from connmgr.schemas.settings import Settings
from connmgr.storage.database import migrate

log = structlog.get_logger("connmgr.runtime")


async def run_worker_process(settings: Settings, pool: str) -> int:
    stop = stop_on_signals()
    keyring = preflight_keyring((pool,), settings)
    engine = pool_engine(settings, pool)
    nc = await connect_nats(settings, pool)
    try:
        await migrate(engine)
        loop = await start_pool(pool, settings, Resources(nc, engine, keyring))
        log.info("pool_started", pool=pool)
        await run_until_stopped(loop, stop, settings.shutdown_grace_s)
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
