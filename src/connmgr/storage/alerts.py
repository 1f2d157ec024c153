"""The alerts projection: one row per alert, folded from the log.

An alert is an ``AlertRaised`` event, resolved by the ``AlertResolved`` of the same
``alert_id`` later in the same connection's stream. ``fold_alerts`` writes a row per
raise (``state_rank`` 0, open) and resolves the open rows a resolution names, of
its own stream and tenant (``state_rank`` 1), in the transaction that appends the
events, so the rows are always the fold of the committed log; ``rebuild_alerts``
folds the whole log again (``projection_store.rebuild`` and the refold after
migration 0009). A resolution with no earlier raise of its alert changes nothing;
one raise is resolved once.

Reading them is ``reads.connection_health.list_alerts``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.event_log import StoredEvent
from connmgr.storage.tables import alerts, events

RAISED: Final = "AlertRaised"
RESOLVED: Final = "AlertResolved"
OPEN_RANK: Final = 0
RESOLVED_RANK: Final = 1
REBUILD_PAGE: Final = 1000


async def fold_alerts(connection: AsyncConnection, stored: Iterable[StoredEvent]) -> None:
    """Fold appended events (in log order) into ``alerts``; other types are skipped."""
    appended = [event for event in stored if event.type in (RAISED, RESOLVED)]
    raises = [_raised_row(event) for event in appended if event.type == RAISED]
    if raises:
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


async def rebuild_alerts(connection: AsyncConnection) -> int:
    """Replace ``alerts`` by the fold of the whole log; returns the alerts raised.

    The same pairing as ``fold_alerts``, made in memory over the log's alert events
    so the rows are inserted in bulk: a resolved raise is written as soon as its
    resolution is read, so memory holds the open raises and one page of rows."""
    await connection.execute(delete(alerts))
    e = events.c
    open_raises: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    position, count = 0, 0
    while True:
        query = (
            select(e.position, e.stream_id, e.tenant, e.type, e.data)
            .where(e.type.in_((RAISED, RESOLVED)), e.position > position)
            .order_by(e.position)
            .limit(REBUILD_PAGE)
        )
        page = (await connection.execute(query)).all()
        if not page:
            break
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
        if resolved:
            await connection.execute(insert(alerts), resolved)
        position = page[-1].position
    still_open = [row for rows in open_raises.values() for row in rows]
    if still_open:
        await connection.execute(insert(alerts), still_open)
    return count


def _raised_row(event: StoredEvent) -> dict[str, object]:
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
