"""The composition root of the API: ``create_app(settings)``.

The API is read-only and never migrates: the process that owns the schema (``connmgr
up``, a migration job) runs ``storage.database.migrate`` first. Nothing connects at
import time; the engine is opened and disposed by the application's ``cleanup_ctx``
unless the caller passes one (tests, the embedded dev stack), which it then owns.
Routes read through ``autocommit_reads(engine)``: one round trip per statement on
PostgreSQL. The engine the API opens itself skips the pre-ping (a round trip per
checkout); a query on a connection the server dropped is answered with a 503 problem
and the pool replaces its connections (``problems``).

Valid tokens are cached for ``TOKEN_CACHE_TTL_S`` (``token_cache``): a revoked token
keeps working for at most that long. Tests pass a ``TokenCache`` with their own clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api import chain_checkpoint
from connmgr.api.app_state import (
    CHAIN,
    ENGINE,
    METRICS,
    READER,
    ROUTES,
    SETTINGS,
    STREAMS,
    TOKENS,
)
from connmgr.api.bearer_tokens import auth_middleware
from connmgr.api.chain_checkpoint import ChainVerifier
from connmgr.api.connection_reads import ConnectionReader
from connmgr.api.console_assets import add_console_routes
from connmgr.api.live_streams import LiveFeed
from connmgr.api.log_fanout import LogFanout
from connmgr.api.metrics import ApiMetrics, metrics_middleware
from connmgr.api.problems import problem_middleware
from connmgr.api.request_spans import request_span_middleware
from connmgr.api.routes import ROUTES as ROUTE_TABLE
from connmgr.api.routing import Route, add_routes
from connmgr.api.token_cache import TokenCache
from connmgr.schemas.settings import Settings
from connmgr.storage.database import autocommit_reads, create_engine

POOL_SIZE: Final = 10
"""Server connections the API keeps open. No overflow: a request waits for one of these
rather than opening (and, at check-in, closing) a server connection of its own."""


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    tokens: TokenCache | None = None,
    extra_routes: Sequence[Route] = (),
) -> web.Application:
    """The read API, plus ``extra_routes`` (the command gateway's, mounted by the runtime
    glue), and the console's static assets (``console_assets``). Middleware order:
    request spans (outermost), metrics, problems, auth."""
    routes = (*ROUTE_TABLE, *extra_routes)
    metrics = ApiMetrics(settings.api_gauges_max_age_s)
    app = web.Application(
        middlewares=[
            request_span_middleware(),
            metrics_middleware(metrics),
            problem_middleware(),
            auth_middleware(routes),
        ]
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[ROUTES] = routes
    app[TOKENS] = TokenCache() if tokens is None else tokens
    if engine is None:
        app.cleanup_ctx.append(_own_engine)
    else:
        _read_through(app, engine)
    app.cleanup_ctx.append(_verify_chain)
    app.on_cleanup.append(_close_reader)
    add_routes(app.router, routes)
    add_console_routes(app.router)
    return app


async def _verify_chain(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[CHAIN] = ChainVerifier(
        app[ENGINE],
        interval_s=settings.api_chain_verify_interval_s,
        whole_interval_s=settings.api_chain_full_verify_interval_s,
    )
    async for _ in chain_checkpoint.running(app[CHAIN]):
        yield


async def _own_engine(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(
        app[SETTINGS].database_url, pool_size=POOL_SIZE, max_overflow=0, pre_ping=False
    )
    _read_through(app, engine)
    yield
    await engine.dispose()


def _read_through(app: web.Application, engine: AsyncEngine) -> None:
    app[ENGINE] = autocommit_reads(engine)
    app[READER] = ConnectionReader(app[ENGINE])
    settings = app[SETTINGS]
    app[STREAMS] = LiveFeed(
        LogFanout(app[ENGINE]),
        heartbeat_s=settings.api_stream_heartbeat_s,
        per_token=settings.api_streams_per_token,
    )
    app.on_shutdown.append(_stop_streams)


async def _stop_streams(app: web.Application) -> None:
    await app[STREAMS].fanout.stop()


async def _close_reader(app: web.Application) -> None:
    if (reader := app.get(READER)) is not None:
        await reader.close()
