"""The read side the API serves: connections of a tenant and the event log, paged.

Contracts:

- every query is scoped to one tenant; another tenant's rows are invisible, exactly
  like rows that do not exist; deleted connections (tombstones) are never returned;
- rows leave as ``storage.views`` models, which carry no secret material;
- connection lists are ordered by ``(name, id)`` and paged by an opaque keyset cursor
  (urlsafe base64 of JSON): inserts and deletes between pages neither repeat nor skip
  the other rows; event pages are ordered by version (one connection) or by log
  position (the feed), ``after`` exclusive. Positions commit in order (see
  ``tables``), so a reader polling ``after`` never misses an event;
- every read is a single statement, so it may run on ``autocommit_reads(engine)``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    Select,
    and_,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.fields import text_problem
from connmgr.storage.tables import connection_tags, connections, events
from connmgr.storage.views import (
    ConnectionPage,
    EventPage,
    connection_view,
    event_view,
)

MAX_LIMIT: Final = 200
DEFAULT_LIMIT: Final = 50


def autocommit_reads(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` for single-statement reads: on PostgreSQL without BEGIN and ROLLBACK.

    Under READ COMMITTED a statement takes its own snapshot even in a transaction, so a
    lone SELECT in autocommit returns the same rows and saves two round trips. Shares
    ``engine``'s pool (dispose ``engine``); never write through it. SQLite (in process,
    no round trips) gets ``engine`` itself.
    """
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@dataclass(frozen=True, slots=True)
class ConnectionFilter:
    """Filters combine with AND; ``q`` is a case-insensitive substring of name or description."""

    kind: str | None = None
    status: str | None = None
    tag: str | None = None
    q: str | None = None


class InvalidCursorError(ValueError):
    """The cursor was not produced by this API (or was altered)."""


def encode_cursor(name: str, connection_id: str) -> str:
    raw = json.dumps({"n": name, "i": connection_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The ``(name, id)`` a cursor points after; raises ``InvalidCursorError``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidCursorError("is not a valid cursor") from error
    if not isinstance(document, dict) or set(document) != {"n", "i"}:
        raise InvalidCursorError("is not a valid cursor")
    name, connection_id = document["n"], document["i"]
    if not isinstance(name, str) or not isinstance(connection_id, str):
        raise InvalidCursorError("is not a valid cursor")
    if text_problem(name) is not None or text_problem(connection_id) is not None:
        raise InvalidCursorError("is not a valid cursor")  # no database could compare it
    return name, connection_id


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")


async def list_connections(
    engine: AsyncEngine,
    tenant: str,
    filters: ConnectionFilter = ConnectionFilter(),
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> ConnectionPage:
    """One page of the tenant's live connections ordered by ``(name, id)``.

    Raises ``InvalidCursorError`` for a bad cursor, ``ValueError`` for a bad limit.
    """
    _check_limit(limit)
    query = _filtered(_live(tenant), filters)
    if cursor is not None:
        name, connection_id = decode_cursor(cursor)
        c = connections.c
        query = query.where(or_(c.name > name, and_(c.name == name, c.id > connection_id)))
    query = query.order_by(connections.c.name, connections.c.id).limit(limit + 1)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    items = [connection_view(row) for row in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_cursor(items[-1].name, items[-1].id) if more else None
    return ConnectionPage(items=items, next_cursor=next_cursor)


async def connection_events(
    engine: AsyncEngine,
    tenant: str,
    connection_id: str,
    *,
    after: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> EventPage:
    """The connection's own events (its stream), oldest first, versions ``> after``.

    The caller checks first that the connection is visible (``connections_by_id``).
    """
    _check_limit(limit)
    e = events.c
    query = select(events).where(e.tenant == tenant, e.stream_id == connection_id)
    query = query.where(e.version > after).order_by(e.version).limit(limit + 1)
    return await _event_page(engine, query, limit, after, "version")


async def events_after(
    engine: AsyncEngine, tenant: str, *, after: int = 0, limit: int = DEFAULT_LIMIT
) -> EventPage:
    """The tenant's slice of the global log, positions ``> after``, in log order."""
    _check_limit(limit)
    e = events.c
    query = select(events).where(e.tenant == tenant, e.position > after)
    query = query.order_by(e.position).limit(limit + 1)
    return await _event_page(engine, query, limit, after, "position")


def _live(tenant: str) -> Select[Any]:
    c = connections.c
    return select(connections).where(c.tenant == tenant, c.deleted.is_(False))


def _filtered(query: Select[Any], filters: ConnectionFilter) -> Select[Any]:
    c = connections.c
    if filters.kind is not None:
        query = query.where(c.kind == filters.kind)
    if filters.status is not None:
        query = query.where(c.status == filters.status)
    if filters.tag is not None:
        t = connection_tags.c
        query = query.where(exists().where(t.connection_id == c.id, t.tag == filters.tag))
    if filters.q:
        needle = filters.q.lower()
        query = query.where(
            or_(
                func.lower(c.name).contains(needle, autoescape=True),
                func.lower(c.description).contains(needle, autoescape=True),
            )
        )
    return query


async def _event_page(
    engine: AsyncEngine, query: Select[Any], limit: int, after: int, key: str
) -> EventPage:
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    items = [event_view(row) for row in rows[:limit]]
    next_after = int(getattr(items[-1], key)) if items else after
    return EventPage(items=items, next_after=next_after, has_more=len(rows) > limit)
