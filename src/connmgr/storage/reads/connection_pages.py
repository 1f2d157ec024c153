"""A tenant's live connections, filtered and paged: the ``GET /api/connections`` list.

Contracts:

- scoped to one tenant; another tenant's rows are invisible, exactly like rows that
  do not exist; deleted connections (tombstones) are never returned;
- rows leave as ``views.ConnectionView``s, which carry no secret material;
- ordered by ``(name, id)`` and paged by a keyset cursor, ``<id>:<name>`` of the last
  row (``CURSOR_PATTERN``; any text of that shape is a position): inserts and deletes
  between pages neither repeat nor skip the other rows;
- one statement per page, so it may run on ``database.autocommit_reads(engine)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.fields import text_problem
from connmgr.storage.reads.paging import (
    DEFAULT_LIMIT,
    UUID_PATTERN,
    InvalidCursorError,
    check_limit,
)
from connmgr.storage.reads.views import ConnectionPage, connection_view
from connmgr.storage.tables import connection_tags, connections


@dataclass(frozen=True, slots=True)
class ConnectionFilter:
    """Filters combine with AND; ``q`` is a case-insensitive substring of name or description."""

    kind: str | None = None
    status: str | None = None
    tag: str | None = None
    q: str | None = None


CURSOR_PATTERN: Final = "^" + UUID_PATTERN + r":[^\x00]*$"
"""A cursor: the last row's id, ``:``, its name (any text but NUL; a name has at most
``MAX_NAME_LENGTH`` characters, so a cursor at most ``MAX_CURSOR_LENGTH``)."""
MAX_NAME_LENGTH: Final = 200
MAX_CURSOR_LENGTH: Final = 36 + 1 + MAX_NAME_LENGTH
_CURSOR: Final = re.compile(CURSOR_PATTERN)


def encode_cursor(name: str, connection_id: str) -> str:
    return f"{connection_id}:{name}"


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The ``(name, id)`` a cursor points after; raises ``InvalidCursorError``."""
    if len(cursor) > MAX_CURSOR_LENGTH or not _CURSOR.fullmatch(cursor):
        raise InvalidCursorError("is not a valid cursor")
    if text_problem(cursor) is not None:  # a lone surrogate: no database could compare it
        raise InvalidCursorError("is not a valid cursor")
    connection_id, _, name = cursor.partition(":")
    return name, connection_id.lower()


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
    check_limit(limit)
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
