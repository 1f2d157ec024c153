"""Per-connection probe state: the prober's working memory between checks.

Not part of the projection (only status *changes* enter the log, so counters
and the recent-results window cannot be folded from it); rows are plain
mappings whose keys are the ``probe_state`` columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.any_of import BACKENDS, arrays_on, one_of
from connmgr.storage.event_log import as_utc
from connmgr.storage.tables import connections, probe_state

_TIMES = ("status_since", "last_check_at", "alert_raised_at", "updated_at")

# By whether the backend takes arrays (``any_of``): the prober's flush sends both with a
# batch's ids, whose number varies from flush to flush; one statement text serves all.
_LOCKED: Final = {
    array: select(probe_state)
    .where(one_of(probe_state.c.connection_id, "ids", array=array))
    .order_by(probe_state.c.connection_id)
    .with_for_update()
    for array in BACKENDS
}
_STATUSES: Final = {
    array: select(connections.c.id, connections.c.tenant, connections.c.status).where(
        one_of(connections.c.id, "ids", array=array)
    )
    for array in BACKENDS
}


def _row(row: Mapping[Any, Any]) -> dict[str, Any]:
    values = dict(row)
    for name in _TIMES:
        if values.get(name) is not None:
            values[name] = as_utc(values[name])
    return values


async def lock_probe_states(
    connection: AsyncConnection, connection_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The rows of these connections, locked for the transaction, in id order (no deadlock)."""
    ids = sorted(set(connection_ids))
    if not ids:
        return {}
    rows = await connection.execute(_LOCKED[arrays_on(connection)], {"ids": ids})
    return {row.connection_id: _row(row._mapping) for row in rows}


async def read_probe_state(
    connection: AsyncConnection, connection_id: str
) -> dict[str, Any] | None:
    row = (
        await connection.execute(
            select(probe_state).where(probe_state.c.connection_id == connection_id)
        )
    ).one_or_none()
    return None if row is None else _row(row._mapping)


async def save_probe_state(
    connection: AsyncConnection, values: Mapping[str, Any], *, existed: bool
) -> None:
    if existed:
        await connection.execute(
            update(probe_state)
            .where(probe_state.c.connection_id == values["connection_id"])
            .values(dict(values))
        )
    else:
        await connection.execute(insert(probe_state).values(dict(values)))


async def save_probe_states(
    connection: AsyncConnection, rows: Mapping[str, Mapping[str, Any]], existed: set[str]
) -> None:
    """Write many rows at once: inserts for new connections, one executemany for the rest."""
    new = [dict(row) for cid, row in rows.items() if cid not in existed]
    old = [{"match_id": cid, **row} for cid, row in rows.items() if cid in existed]
    if new:
        await connection.execute(insert(probe_state), new)
    if old:
        await connection.execute(
            update(probe_state).where(probe_state.c.connection_id == bindparam("match_id")), old
        )


async def statuses_of(
    connection: AsyncConnection, connection_ids: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """``id -> (tenant, status)`` of these connections, in one query."""
    ids = list(set(connection_ids))
    if not ids:
        return {}
    rows = await connection.execute(_STATUSES[arrays_on(connection)], {"ids": ids})
    return {row.id: (row.tenant, row.status) for row in rows}
