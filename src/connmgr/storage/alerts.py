"""The alerts projection: one row per alert, folded from the log.

An alert is an ``AlertRaised`` event, resolved by the ``AlertResolved`` of the same
``alert_id`` later in the same connection's stream. ``fold_alerts`` writes a row per
raise (``state_rank`` 0, open) and resolves the open rows a resolution names, of
its own stream and tenant (``state_rank`` 1), in the transaction that appends the
events, so the rows are always the fold of the committed log; ``rebuild_alerts``
folds the log again (the refold after migration 0009, and ``projection_store.rebuild``,
which folds the bulk before it takes the chain head and the tail, with
``fold_alerts_after``, holding it). A resolution with no earlier raise of its alert changes nothing;
one raise is resolved once.

Reading them is ``reads.connection_health.list_alerts``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any, Final, Protocol

from sqlalchemy import Column, MetaData, Row, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.bulk_insert import insert_rows
from connmgr.storage.event_log import StoredEvent
from connmgr.storage.rollups import dialect_insert
from connmgr.storage.tables import alerts, events

RAISED: Final = "AlertRaised"
RESOLVED: Final = "AlertResolved"
OPEN_RANK: Final = 0
RESOLVED_RANK: Final = 1
REBUILD_PAGE: Final = 1000


async def fold_alerts(connection: AsyncConnection, stored: Iterable[StoredEvent]) -> None:
    """Fold appended events (in log order) into ``alerts``; other types are skipped."""
    await _fold(connection, list(stored), keep_written=False)


async def fold_alerts_after(connection: AsyncConnection, position: int) -> None:
    """Fold the alert events after ``position`` as ``fold_alerts`` does, where the live
    fold may have written them already: a raise already written is kept, and a
    resolution of a raise already resolved changes nothing (a rebuild's tail)."""
    while page := await _alert_events(connection, after=position, through=None):
        await _fold(connection, page, keep_written=True)
        position = page[-1].position


async def rebuild_alerts(connection: AsyncConnection, *, through: int | None = None) -> int:
    """Replace the alerts raised up to position ``through`` (None: every alert) by the
    fold of the log up to there; returns the alerts raised there.

    The same pairing as ``fold_alerts``, made in memory over the log's alert events: a
    resolved raise is written as soon as its resolution is read, so memory holds the
    open raises and one page of rows. They are written to a temporary table, swapped in
    at the end: so, without the chain head, the live fold waits on this transaction's
    rows only for that swap (a resolution of an alert it holds), not for the fold."""
    staged = _staged()
    await connection.run_sync(staged.create)
    open_raises: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    position, count = 0, 0
    while page := await _alert_events(connection, after=position, through=through):
        resolved: list[dict[str, object]] = []
        for row in page:
            key = (row.tenant, row.stream_id, str(row.data.get("alert_id")))
            if row.type == RAISED:
                raised = _row(row.position, row.stream_id, row.tenant, row.data)
                open_raises.setdefault(key, []).append(raised)
                count += 1
                continue
            for raised in open_raises.pop(key, []):
                resolved.append(raised | {"state_rank": RESOLVED_RANK, "resolved": row.data})
        await insert_rows(connection, staged, resolved)
        position = page[-1].position
    await insert_rows(connection, staged, [row for rows in open_raises.values() for row in rows])
    replaced = delete(alerts)
    if through is not None:
        replaced = replaced.where(alerts.c.raised_position <= through)
    await connection.execute(replaced)
    columns = [column.name for column in alerts.columns]
    await connection.execute(insert(alerts).from_select(columns, select(staged)))
    await connection.run_sync(staged.drop)
    return count


class _AlertEvent(Protocol):
    """What the fold reads of an alert event: a ``StoredEvent``, or a row of the log."""

    @property
    def position(self) -> int: ...
    @property
    def stream_id(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


async def _fold(
    connection: AsyncConnection, events_: Sequence[_AlertEvent], *, keep_written: bool
) -> None:
    appended = [event for event in events_ if event.type in (RAISED, RESOLVED)]
    raises = [_raised_row(event) for event in appended if event.type == RAISED]
    if raises and keep_written:
        statement = dialect_insert(connection, alerts).on_conflict_do_nothing(
            index_elements=[alerts.c.raised_position]
        )
        await connection.execute(statement, raises)
    elif raises:
        await connection.execute(insert(alerts), raises)
    a = alerts.c
    for event in appended:
        if event.type != RESOLVED:
            continue
        await connection.execute(
            update(alerts)
            .where(
                a.connection_id == event.stream_id,
                a.tenant == event.tenant,
                a.alert_id == str(event.data.get("alert_id")),
                a.state_rank == OPEN_RANK,
                a.raised_position < event.position,
            )
            .values(state_rank=RESOLVED_RANK, resolved=event.data)
        )


async def _alert_events(
    connection: AsyncConnection, *, after: int, through: int | None
) -> Sequence[Row[Any]]:
    """The next page of alert events after ``after`` (up to ``through``), in log order."""
    e = events.c
    query = (
        select(e.position, e.stream_id, e.tenant, e.type, e.data)
        .where(e.type.in_((RAISED, RESOLVED)), e.position > after)
        .order_by(e.position)
        .limit(REBUILD_PAGE)
    )
    if through is not None:
        query = query.where(e.position <= through)
    return (await connection.execute(query)).all()


def _staged() -> Table:
    """A temporary table shaped like ``alerts``, for one rebuild (dropped at its end).
    Its name is new each time, so no statement prepared for an earlier one is reused."""
    columns = [Column(column.name, column.type) for column in alerts.columns]
    name = f"alerts_staged_{secrets.token_hex(4)}"
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])


def _raised_row(event: _AlertEvent) -> dict[str, object]:
    return _row(event.position, event.stream_id, event.tenant, event.data)


def _row(
    position: int, connection_id: str, tenant: str, raised: dict[str, Any]
) -> dict[str, object]:
    return {
        "raised_position": position,
        "alert_id": str(raised.get("alert_id")),
        "tenant": tenant,
        "connection_id": connection_id,
        "state_rank": OPEN_RANK,
        "raised": raised,
        "resolved": None,
    }
