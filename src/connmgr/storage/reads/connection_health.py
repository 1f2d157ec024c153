"""Connection health, tenant by tenant: status counts, status changes, alerts.

Contracts:

- tenant-scoped reads see only live connections of that tenant: another tenant's,
  like a deleted one's, rows, changes and alerts are invisible (their events stay
  in the log; ``/logs`` is the audit trail);
- ``recent_status_changes``: the last ``HealthStatusChanged`` events, newest first;
- ``list_alerts``: an alert is an ``AlertRaised`` event, paired by ``data.alert_id``
  with the (at most one) ``AlertResolved`` later in the same connection's stream
  (the ``alerts`` projection, ``storage.alerts``). Open alerts first, then resolved
  ones, each newest raise (log position) first, paged by a keyset cursor
  ``<rank>:<position>`` of the last alert (rank 0 open, 1 resolved;
  ``ALERT_CURSOR_PATTERN``, any text of that shape is a position); an
  open alert's ``open_s`` runs up to ``now``.

The reads across tenants, for the ``/metrics`` scrape, are ``fleet_gauges``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.events import AlertRaised, AlertResolved, HealthStatusChanged
from connmgr.schemas.stored_events import decode_as
from connmgr.storage.alerts import OPEN_RANK, RESOLVED_RANK
from connmgr.storage.event_log import as_utc
from connmgr.storage.reads.paging import InvalidCursorError
from connmgr.storage.tables import alerts, connections, events

AlertState = Literal["open", "resolved"]
MAX_CHANGES: Final = 100
ALERT_CURSOR_PATTERN: Final = r"^[01]:[0-9]{1,18}$"
"""18 digits at most: every position it spells fits a signed 64-bit column."""
_ALERT_CURSOR: Final = re.compile(ALERT_CURSOR_PATTERN)
_RANKS: Final[dict[AlertState, int]] = {"open": OPEN_RANK, "resolved": RESOLVED_RANK}


class StatusChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    connection_id: str
    connection_name: str
    previous: str
    status: str
    reason: str
    outcome: str | None
    at: datetime


class AlertView(BaseModel):
    """``resolved_at`` is None while open; ``open_s`` is how long it was (or is) open."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str
    connection_id: str
    connection_name: str
    state: AlertState
    reason: str
    outcome: str | None
    raised_at: datetime
    resolved_at: datetime | None
    open_s: float


class AlertPage(BaseModel):
    """``next_cursor`` is None on the last page."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[AlertView]
    next_cursor: str | None


class StatusCount(NamedTuple):
    tenant: str
    kind: str
    status: str
    connections: int


def encode_alert_cursor(rank: int, position: int) -> str:
    return f"{rank}:{position}"


def decode_alert_cursor(cursor: str) -> tuple[int, int]:
    """The ``(rank, position)`` a cursor points after; raises ``InvalidCursorError``."""
    if _ALERT_CURSOR.fullmatch(cursor) is None:
        raise InvalidCursorError("is not a valid cursor")
    rank, _, position = cursor.partition(":")
    return int(rank), int(position)


async def status_counts(
    engine: AsyncEngine, tenant: str, connection_id: str | None = None
) -> list[StatusCount]:
    """Live connections of the tenant (or that one connection) by kind and status."""
    c = connections.c
    query = _live_counts().where(c.tenant == tenant)
    if connection_id is not None:
        query = query.where(c.id == connection_id)
    async with engine.connect() as connection:
        return [StatusCount(*row) for row in await connection.execute(query)]


async def recent_status_changes(engine: AsyncEngine, tenant: str, limit: int) -> list[StatusChange]:
    """The tenant's last ``limit`` (at most ``MAX_CHANGES``) status changes, newest first."""
    if not 1 <= limit <= MAX_CHANGES:
        raise ValueError(f"limit must be between 1 and {MAX_CHANGES}")
    e, c = events.c, connections.c
    query = (
        select(e.stream_id, c.name, e.data)
        .join(connections, and_(c.id == e.stream_id, c.tenant == e.tenant))
        .where(e.tenant == tenant, e.type == "HealthStatusChanged", c.deleted.is_(False))
        .order_by(e.position.desc())
        .limit(limit)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [_change(stream_id, name, data) for stream_id, name, data in rows]


def _change(connection_id: str, name: str, data: dict[str, Any]) -> StatusChange:
    change = decode_as(HealthStatusChanged, data)
    fields = change.model_dump(include={"previous", "status", "reason", "outcome"})
    return StatusChange(
        connection_id=connection_id, connection_name=name, at=as_utc(change.changed_at), **fields
    )


async def list_alerts(
    engine: AsyncEngine,
    tenant: str,
    now: datetime,
    *,
    state: AlertState | None = None,
    connection_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> AlertPage:
    """One page of the tenant's alerts, open first (module contract).

    Each rank is one range of an index of the ``alerts`` projection, newest raise
    first, from the cursor on: a page reads its own rows, whatever the history.
    Raises ``InvalidCursorError`` for a bad cursor."""
    after_rank, after = (OPEN_RANK, None) if cursor is None else decode_alert_cursor(cursor)
    ranks = [OPEN_RANK, RESOLVED_RANK] if state is None else [_RANKS[state]]
    rows: list[Row[Any]] = []
    async with engine.connect() as connection:
        for rank in ranks:
            if rank < after_rank or len(rows) > limit:
                continue
            before = after if rank == after_rank else None
            query = _alerts(tenant, rank, before, connection_id).limit(limit + 1 - len(rows))
            rows += (await connection.execute(query)).all()
    items = [_alert(*row[2:], now=now) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = None if last is None else encode_alert_cursor(last[0], last[1])
    return AlertPage(items=items, next_cursor=next_cursor)


def _alerts(tenant: str, rank: int, before: int | None, connection_id: str | None) -> Select[Any]:
    """The tenant's alerts of one rank on live connections (or that one connection),
    raised before log position ``before`` if given, newest raise first: ``(rank,
    position, connection id, name, raised data, resolved data)``."""
    a, c = alerts.c, connections.c
    query = (
        select(a.state_rank, a.raised_position, a.connection_id, c.name, a.raised, a.resolved)
        .join(connections, and_(c.id == a.connection_id, c.tenant == a.tenant))
        .where(a.tenant == tenant, a.state_rank == rank, c.deleted.is_(False))
        .order_by(a.raised_position.desc())
    )
    if before is not None:
        query = query.where(a.raised_position < before)
    if connection_id is not None:
        query = query.where(a.connection_id == connection_id)
    return query


def _alert(
    connection_id: str,
    name: str,
    raised_data: dict[str, Any],
    resolved_data: dict[str, Any] | None,
    *,
    now: datetime,
) -> AlertView:
    raised = decode_as(AlertRaised, raised_data)
    resolved = None if resolved_data is None else decode_as(AlertResolved, resolved_data)
    raised_at = as_utc(raised.raised_at)
    open_s = max(0.0, (as_utc(now) - raised_at).total_seconds())
    return AlertView(
        alert_id=str(raised.alert_id),
        connection_id=connection_id,
        connection_name=name,
        state="open" if resolved is None else "resolved",
        reason=raised.reason,
        outcome=raised.outcome,
        raised_at=raised_at,
        resolved_at=None if resolved is None else as_utc(resolved.resolved_at),
        open_s=open_s if resolved is None else resolved.open_s,
    )


def _live_counts() -> Select[Any]:
    """``(tenant, kind, status, count)`` of live connections."""
    c = connections.c
    query = select(c.tenant, c.kind, c.status, func.count()).where(c.deleted.is_(False))
    return query.group_by(c.tenant, c.kind, c.status)
