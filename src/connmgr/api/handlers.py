"""Handlers of the tenant-scoped read routes: connections, their logs, the event feed.

Each reads the tenant from the token's grant and nothing else: a connection of
another tenant is answered exactly like one that does not exist (404).
"""

from __future__ import annotations

from typing import Final

import structlog
from aiohttp import web
from pydantic import BaseModel

from connmgr.api import chain_checkpoint
from connmgr.api.app_state import CHAIN, ENGINE, GRANT, READER
from connmgr.api.params import (
    ConnectionListQuery,
    ConnectionLogQuery,
    EventFeedQuery,
    connection_id,
    parse_query,
)
from connmgr.api.problems import not_found
from connmgr.storage.reads import connection_pages, event_pages, time_travel
from connmgr.storage.reads.views import ConnectionView

_PRIVATE_HEADERS: Final = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}
_JSON: Final = "application/json; charset=utf-8"


async def list_connections(request: web.Request) -> web.StreamResponse:
    query = parse_query(request, ConnectionListQuery)
    filters = connection_pages.ConnectionFilter(
        kind=None if query.kind is None else query.kind.value,
        status=query.status,
        tag=query.tag,
        q=query.q,
    )
    page = await connection_pages.list_connections(
        request.app[ENGINE],
        request[GRANT].tenant,
        filters,
        limit=query.limit,
        cursor=query.cursor,
    )
    return _json(page)


async def get_connection(request: web.Request) -> web.StreamResponse:
    """One connection with a strong ETag; ``If-None-Match`` that matches → 304."""
    view = await _visible_connection(request)
    etag = entity_tag(view)
    headers = {**_PRIVATE_HEADERS, "ETag": f'"{etag}"'}
    if _matches(request, etag):
        return web.Response(status=304, headers=headers)
    body = request.app[READER].body(view)
    return web.Response(body=body, headers={**headers, "Content-Type": _JSON})


async def connection_logs(request: web.Request) -> web.StreamResponse:
    """The connection's audit trail: its events, oldest first, from version ``after + 1``."""
    query = parse_query(request, ConnectionLogQuery)
    view = await _visible_connection(request)
    page = await event_pages.connection_events(
        request.app[ENGINE], view.tenant, view.id, after=query.after, limit=query.limit
    )
    return _json(page)


async def event_feed(request: web.Request) -> web.StreamResponse:
    """The tenant's part of the global log, in log order, from position ``after + 1``."""
    query = parse_query(request, EventFeedQuery)
    page = await event_pages.events_after(
        request.app[ENGINE], request[GRANT].tenant, after=query.after, limit=query.limit
    )
    return _json(page)


async def connection_version(request: web.Request) -> web.StreamResponse:
    """Time travel: the connection as it was at version ``n``, folded from its events.
    A history that does not fold is logged and answered like a missing version."""
    try:
        view = await time_travel.connection_at_version(
            request.app[ENGINE],
            request[GRANT].tenant,
            connection_id(request),
            int(request.match_info["n"]),
        )
    except time_travel.UnreadableHistory as error:
        structlog.get_logger("connmgr.api").error("api.unreadable_history", position=error.position)
        view = None
    if view is None:
        raise not_found("connection version")
    return _json(view)


async def audit_checkpoint(request: web.Request) -> web.StreamResponse:
    """Up to which log position, and when, the global hash chain last held."""
    return chain_checkpoint.answer(request.app[CHAIN])


def entity_tag(view: ConnectionView) -> str:
    """Strong validator: the projection changes a connection only with a new version."""
    return f"{view.id}.v{view.version}"


async def _visible_connection(request: web.Request) -> ConnectionView:
    view = await request.app[READER].get(request[GRANT].tenant, connection_id(request))
    if view is None:
        raise not_found("connection")
    return view


def _matches(request: web.Request, etag: str) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes are ignored.
    candidates = request.if_none_match or ()
    return any(candidate.value in (etag, "*") for candidate in candidates)


def _json(model: BaseModel, headers: dict[str, str] = _PRIVATE_HEADERS) -> web.Response:
    # Serialised once, straight to UTF-8 bytes (no str round trip, no charset guessing).
    body = model.__pydantic_serializer__.to_json(model)
    return web.Response(body=body, headers={**headers, "Content-Type": _JSON})
