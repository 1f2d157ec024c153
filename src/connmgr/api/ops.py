"""Public operational routes: liveness, readiness, metrics, the OpenAPI document.

They need no token: none of them returns tenant data. ``/metrics`` labels carry only
route names, methods and status codes; expose it to the scraper's network only.
"""

from __future__ import annotations

import asyncio
from typing import Final

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from connmgr.api.keys import ENGINE, METRICS, ROUTES
from connmgr.api.openapi import openapi_document
from connmgr.api.problems import UNAVAILABLE, Problem, ProblemError

READINESS_TIMEOUT_S: Final = 3.0

_LOGGER: Final = "connmgr.api"


class Health(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str


async def healthz(_request: web.Request) -> web.StreamResponse:
    """Alive: the process answers HTTP. Checks nothing else, by design."""
    return web.json_response(Health(status="ok").model_dump())


async def readyz(request: web.Request) -> web.StreamResponse:
    """Ready: the database answers ``SELECT 1`` within the timeout; else 503 problem."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_S):
            async with request.app[ENGINE].connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not ready"; never echo driver text
        structlog.get_logger(_LOGGER).warning("api.not_ready", error_type=type(error).__name__)
        detail = "The database is not reachable."
        problem = Problem(type=UNAVAILABLE, title="Service unavailable", status=503, detail=detail)
        raise ProblemError(problem, {"Retry-After": "5"}) from None
    return web.json_response(Health(status="ready").model_dump())


async def metrics(request: web.Request) -> web.StreamResponse:
    return request.app[METRICS].exposition()


async def openapi(request: web.Request) -> web.StreamResponse:
    """The OpenAPI 3.1 document of exactly the routes this application registered."""
    routes = request.app[ROUTES]
    return web.json_response(openapi_document(request.app.router, routes))
