"""The probes: liveness (``/healthz``) and readiness (``/readyz``).

Public: they need no token and return no tenant data. The other public route, the
OpenAPI document, is ``openapi``'s; ``/metrics`` (a scope of its own) is ``scrape``'s.
"""

from __future__ import annotations

import asyncio
from typing import Final

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api.app_state import ENGINE
from connmgr.api.problems import unavailable

READINESS_TIMEOUT_S: Final = 3.0

_LOGGER: Final = "connmgr.api"


class Health(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str


async def healthz(_request: web.Request) -> web.StreamResponse:
    """Alive: the process answers HTTP. Checks nothing else, by design."""
    return web.json_response(Health(status="ok").model_dump())


async def readyz(request: web.Request) -> web.StreamResponse:
    """Ready: the database answers ``SELECT 1`` within the timeout; else 503 problem.

    A pooled connection the server dropped (a database restart) is no reason to be
    unready: that failure invalidates the pool's old connections and the check is
    asked once more, on a fresh one. Only a database that does not answer is a 503.
    """
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_S):
            try:
                await _select_one(request.app[ENGINE])
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                await _select_one(request.app[ENGINE])
    except Exception as error:  # any failure means "not ready"; never echo driver text
        structlog.get_logger(_LOGGER).warning("api.not_ready", error_type=type(error).__name__)
        raise unavailable() from None
    return web.json_response(Health(status="ready").model_dump())


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
