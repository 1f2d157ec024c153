"""Pages of the event log a tenant may read: one connection's stream, and the feed.

Contracts:

- scoped to one tenant: another tenant's events are invisible, exactly like events
  that do not exist;
- rows leave as ``views.EventView``s: every ``secrets`` object reduced to its
  version and field names;
- a connection's events are ordered by version, the feed by log position, both
  ``after`` exclusive. Positions commit in order (see ``tables``), so a reader
  polling ``after`` never misses an event;
- one statement per page, so it may run on ``database.autocommit_reads(engine)``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.reads.paging import DEFAULT_LIMIT, check_limit
from connmgr.storage.reads.views import EventPage, EventView, event_view
from connmgr.storage.tables import events


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
    check_limit(limit)
    e = events.c
    query = select(events).where(e.tenant == tenant, e.stream_id == connection_id)
    query = query.where(e.version > after).order_by(e.version).limit(limit + 1)
    return await _event_page(engine, query, limit, after, "version")


async def events_after(
    engine: AsyncEngine, tenant: str, *, after: int = 0, limit: int = DEFAULT_LIMIT
) -> EventPage:
    """The tenant's slice of the global log, positions ``> after``, in log order."""
    check_limit(limit)
    e = events.c
    query = select(events).where(e.tenant == tenant, e.position > after)
    query = query.order_by(e.position).limit(limit + 1)
    return await _event_page(engine, query, limit, after, "position")


async def _event_page(
    engine: AsyncEngine, query: Select[Any], limit: int, after: int, key: str
) -> EventPage:
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    items = [event_view(row) for row in rows[:limit]]
    next_after = int(getattr(items[-1], key)) if items else after
    return EventPage(items=items, next_after=next_after, has_more=len(rows) > limit)


async def every_tenants_events_after(
    engine: AsyncEngine, *, after: int, limit: int = DEFAULT_LIMIT
) -> tuple[list[tuple[str, EventView]], bool]:
    """The global log after ``after``, each event with its tenant, and whether more follow.

    For one reader that fans events out to each tenant's own streams (the API's live
    feed): the caller hands every event only to its tenant's readers.
    """
    check_limit(limit)
    query = select(events).where(events.c.position > after).order_by(events.c.position)
    async with engine.connect() as connection:
        rows = (await connection.execute(query.limit(limit + 1))).mappings().all()
    return [(str(row["tenant"]), event_view(row)) for row in rows[:limit]], len(rows) > limit


async def last_position(engine: AsyncEngine) -> int:
    """The newest log position (0 for an empty log)."""
    async with engine.connect() as connection:
        value = (await connection.execute(select(func.max(events.c.position)))).scalar()
    return int(value or 0)
