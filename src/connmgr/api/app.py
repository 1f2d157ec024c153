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

from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api.auth import auth_middleware
from connmgr.api.connection_reads import ConnectionReader
from connmgr.api.keys import ENGINE, METRICS, READER, ROUTES, SETTINGS, TOKENS
from connmgr.api.metrics import ApiMetrics, metrics_middleware
from connmgr.api.problems import problem_middleware
from connmgr.api.routes import ROUTES as ROUTE_TABLE
from connmgr.api.routing import add_routes
from connmgr.api.token_cache import TokenCache
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine
from connmgr.storage.queries import autocommit_reads

POOL_SIZE: Final = 10
"""Server connections the API keeps open. No overflow: a request waits for one of these
rather than opening (and, at check-in, closing) a server connection of its own."""


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    tokens: TokenCache | None = None,
) -> web.Application:
    """The read API. Middleware order: metrics (outermost), problems, auth."""
    metrics = ApiMetrics()
    app = web.Application(
        middlewares=[
            metrics_middleware(metrics),
            problem_middleware(),
            auth_middleware(ROUTE_TABLE),
        ]
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[ROUTES] = ROUTE_TABLE
    app[TOKENS] = TokenCache() if tokens is None else tokens
    if engine is None:
        app.cleanup_ctx.append(_own_engine)
    else:
        _read_through(app, engine)
    add_routes(app.router, ROUTE_TABLE)
    return app


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
