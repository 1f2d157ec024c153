"""Every piece of typed application and request state of the API, in one place."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api.chain_checkpoint import ChainVerifier
from connmgr.api.connection_reads import ConnectionReader
from connmgr.api.live_streams import LiveFeed
from connmgr.api.metrics import ApiMetrics
from connmgr.api.routing import Route
from connmgr.api.token_cache import TokenCache
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import TokenGrant

SETTINGS: Final = web.AppKey("settings", Settings)
ENGINE: Final = web.AppKey("engine", AsyncEngine)
"""The engine every route reads through: autocommit on PostgreSQL (``autocommit_reads``)."""
TOKENS: Final = web.AppKey("tokens", TokenCache)
READER: Final = web.AppKey("reader", ConnectionReader)
"""Reads one connection by id, coalescing concurrent reads (``connection_reads``)."""
METRICS: Final = web.AppKey("metrics", ApiMetrics)
ROUTES: Final[web.AppKey[tuple[Route, ...]]] = web.AppKey("routes")
STREAMS: Final = web.AppKey("streams", LiveFeed)
CHAIN: Final = web.AppKey("chain", ChainVerifier)
"""The periodic walk of the hash chain and its last outcome (``chain_checkpoint``)."""
"""The live feed's one log reader and its per-token stream counts (``live_feed``)."""

GRANT: Final = web.RequestKey("grant", TokenGrant)
"""Set by the auth middleware on every request to a route that needs a scope."""
