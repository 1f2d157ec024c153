"""The route table's vocabulary: one ``Route`` per endpoint, read by the router,
the auth middleware (which scope it needs) and the OpenAPI document (what it takes
and returns)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

UUID_PATTERN: Final = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
"""Path ids match only UUIDs, so literal siblings (``/api/connections/stats``) never collide."""


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint. ``scope`` None means public (no token needed)."""

    method: str
    path: str
    name: str
    handler: Handler
    summary: str
    scope: str | None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    media_type: str = "application/json"
    conditional: bool = False
    """Answers ``If-None-Match`` with 304."""
    problems: tuple[int, ...] = ()
    """Problem statuses beyond those implied (400 query, 401/403 scope, 404 path id, 500)."""


def add_routes(router: web.UrlDispatcher, routes: Iterable[Route]) -> None:
    """Register each route under its name (HEAD is not added implicitly)."""
    for route in routes:
        router.add_route(route.method, route.path, route.handler, name=route.name)
