"""Every piece of typed application and request state of the API, in one place."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api.metrics import ApiMetrics
from connmgr.api.routing import Route
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import TokenGrant

SETTINGS: Final = web.AppKey("settings", Settings)
ENGINE: Final = web.AppKey("engine", AsyncEngine)
METRICS: Final = web.AppKey("metrics", ApiMetrics)
ROUTES: Final[web.AppKey[tuple[Route, ...]]] = web.AppKey("routes")

GRANT: Final = web.RequestKey("grant", TokenGrant)
"""Set by the auth middleware on every request to a route that needs a scope."""
