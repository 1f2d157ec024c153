"""The route table's vocabulary: one ``Route`` per endpoint, read by the router,
the auth middleware (which scope it needs) and the OpenAPI document (what it takes
and returns)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from pydantic import BaseModel

from connmgr.storage.reads.paging import UUID_PATTERN

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PATH_ID: Final = f"{{id:{UUID_PATTERN}}}"
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
    body: type[BaseModel] | None = None
    """The JSON request body (a write route of the command gateway)."""
    answers: tuple[int, ...] = ()
    """Success statuses beyond 200 (201 created, 202 pending)."""


def add_routes(router: web.UrlDispatcher, routes: Iterable[Route]) -> None:
    """Register each route under its name (HEAD is not added implicitly)."""
    for route in routes:
        router.add_route(route.method, route.path, route.handler, name=route.name)
