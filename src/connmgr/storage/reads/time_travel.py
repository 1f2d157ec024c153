"""Time travel: a connection exactly as it was at an earlier version, folded from the log.

The same fold as the live projection (``storage/projection.py`` ``apply``) over the
connection's own events up to that version, so a past state can never differ from
what the projection held then (docs/reliability.md, I4). Scoped to one tenant:
another tenant's connection, a version it never had, and a version at which it
was deleted are all None, like a connection that does not exist.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.event_log import stored_event
from connmgr.storage.projection import ConnectionState, apply
from connmgr.storage.projection_store import state_row
from connmgr.storage.reads.views import ConnectionView, connection_view
from connmgr.storage.tables import events

MAX_VERSION: Final = 2**31 - 1
"""Event versions are 32-bit integers (``tables.events``)."""


class UnreadableHistory(ValueError):
    """An event of the history does not fold (it does not decode, or comes before its
    stream's create): ``rebuild`` would fail on it too, so no past state is shown."""

    def __init__(self, position: int) -> None:
        super().__init__(f"the event at log position {position} does not decode")
        self.position = position


async def connection_at_version(
    engine: AsyncEngine, tenant: str, connection_id: str, version: int
) -> ConnectionView | None:
    """The connection's view after its event ``version`` (module doc)."""
    if not 1 <= version <= MAX_VERSION:
        return None
    e = events.c
    query = (
        select(events)
        .where(e.tenant == tenant, e.stream_id == connection_id, e.version <= version)
        .order_by(e.version)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    if not rows or rows[-1].version != version:
        return None
    state: ConnectionState | None = None
    for row in rows:
        try:
            state = apply(state, stored_event(row))
        except ValueError:  # a ValidationError, or an event without its stream's create
            raise UnreadableHistory(row.position) from None
    if state is None or state.deleted:
        return None
    return connection_view(state_row(state))
