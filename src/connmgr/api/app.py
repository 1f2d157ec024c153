"""The composition root of the API: ``create_app(settings)``.

The API is read-only and never migrates: the process that owns the schema (``connmgr
up``, a migration job) runs ``storage.database.migrate`` first. Nothing connects at
import time; the engine is opened and disposed by the application's ``cleanup_ctx``
unless the caller passes one (tests, the embedded dev stack), which it then owns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api.auth import auth_middleware
from connmgr.api.keys import ENGINE, METRICS, ROUTES, SETTINGS
from connmgr.api.metrics import ApiMetrics, metrics_middleware
from connmgr.api.problems import problem_middleware
from connmgr.api.routes import ROUTES as ROUTE_TABLE
from connmgr.api.routing import add_routes
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine


def create_app(settings: Settings, *, engine: AsyncEngine | None = None) -> web.Application:
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
    if engine is None:
        app.cleanup_ctx.append(_own_engine)
    else:
        app[ENGINE] = engine
    add_routes(app.router, ROUTE_TABLE)
    return app


async def _own_engine(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].database_url)
    app[ENGINE] = engine
    yield
    await engine.dispose()
