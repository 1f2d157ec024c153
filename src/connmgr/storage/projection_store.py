"""Reading and writing projection rows, and rebuilding the table from the log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import Select, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.events import EncryptedSecrets
from connmgr.storage.alerts import fold_alerts_after, rebuild_alerts
from connmgr.storage.any_of import BACKENDS, arrays_on, one_of
from connmgr.storage.bulk_insert import insert_rows
from connmgr.storage.connection_columns import shared_columns
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, read_after
from connmgr.storage.projection import ConnectionState, apply
from connmgr.storage.tables import connection_tags, connections

REBUILD_PAGE = 2000


def _rows(array: bool) -> Select[Any]:
    return select(connections).where(one_of(connections.c.id, "ids", array=array))


def _versions(array: bool) -> Select[Any]:
    c = connections.c
    return select(c.id, c.version).where(one_of(c.id, "ids", array=array))


# By whether the backend takes arrays (``any_of``).
_ROWS: Final = {array: _rows(array) for array in BACKENDS}
_VERSIONS: Final = {array: _versions(array) for array in BACKENDS}
_UNTAG: Final = {
    array: delete(connection_tags).where(
        one_of(connection_tags.c.connection_id, "ids", array=array)
    )
    for array in BACKENDS
}


async def load_connection(
    connection: AsyncConnection, connection_id: str
) -> ConnectionState | None:
    row = (
        await connection.execute(select(connections).where(connections.c.id == connection_id))
    ).one_or_none()
    return None if row is None else state_from_row(row._mapping)


async def load_connections(
    connection: AsyncConnection, connection_ids: list[str]
) -> dict[str, ConnectionState | None]:
    """The states of these connections (None for those that do not exist), in one query."""
    found: dict[str, ConnectionState | None] = dict.fromkeys(connection_ids)
    if connection_ids:
        rows = await connection.execute(_ROWS[arrays_on(connection)], {"ids": list(connection_ids)})
        found.update({row.id: state_from_row(row._mapping) for row in rows})
    return found


async def versions_of(connection: AsyncConnection, connection_ids: list[str]) -> dict[str, int]:
    """The version of each of these connections that exists (tombstones too): one narrow
    query, for a writer to check that rows it read earlier have not moved since."""
    if not connection_ids:
        return {}
    query = _VERSIONS[arrays_on(connection)]
    rows = await connection.execute(query, {"ids": list(connection_ids)})
    return {row.id: row.version for row in rows}


async def save_changed_connections(
    connection: AsyncConnection,
    before: dict[str, ConnectionState | None],
    after: dict[str, ConnectionState],
) -> None:
    """Write every state in ``after`` over ``before`` in a few bulk statements."""
    new = [state for cid, state in after.items() if before.get(cid) is None]
    changed = [state for cid, state in after.items() if before.get(cid) is not None]
    if new:
        await insert_rows(connection, connections, [state_row(state) for state in new])
    if changed:
        await connection.execute(
            update(connections).where(connections.c.id == bindparam("match_id")),
            [{"match_id": state.id, **state_row(state)} for state in changed],
        )
    retagged = [
        state
        for state in after.values()
        if (old := before.get(state.id)) is None or old.tags != state.tags
    ]
    if retagged:
        retagged_ids = [state.id for state in retagged]
        await connection.execute(_UNTAG[arrays_on(connection)], {"ids": retagged_ids})
        rows = [
            {"connection_id": state.id, "tag": tag}
            for state in retagged
            for tag in dict.fromkeys(state.tags)
        ]
        if rows:
            await insert_rows(connection, connection_tags, rows)


async def load_all(connection: AsyncConnection) -> dict[str, ConnectionState]:
    """Every connection at once: for comparing a whole projection (a rebuild's checks);
    a worker walking the fleet reads it by ``load_page``."""
    rows = await connection.execute(select(connections).order_by(connections.c.id))
    return {row.id: state_from_row(row._mapping) for row in rows}


async def load_page(connection: AsyncConnection, after_id: str, size: int) -> list[ConnectionState]:
    """Up to ``size`` connections (tombstones too) whose id follows ``after_id``, by id:
    a reader of every connection walks the table a page at a time (``after_id`` the
    last one it had, ``""`` first), so what it holds does not grow with the fleet
    (a state is ~3 KB in memory: 100,000 at once would be ~300 MB)."""
    query = (
        select(connections)
        .where(connections.c.id > after_id)
        .order_by(connections.c.id)
        .limit(size)
    )
    return [state_from_row(row._mapping) for row in await connection.execute(query)]


def state_from_row(row: Mapping[Any, Any]) -> ConnectionState:
    """The state a ``connections`` row holds, its sealed secrets validated back."""
    secrets = row["secrets"]
    fields = shared_columns(row)
    fields["secrets"] = None if secrets is None else EncryptedSecrets.model_validate(secrets)
    fields["tags"] = tuple(row["tags"])
    fields["deleted"] = row["deleted"]
    return ConnectionState(**fields)


def state_row(state: ConnectionState) -> dict[str, Any]:
    return {
        "id": state.id,
        "tenant": state.tenant,
        "name": state.name,
        "kind": state.kind,
        "template": state.template,
        "config": state.config,
        "auth": state.auth,
        "secrets": None if state.secrets is None else state.secrets.model_dump(mode="json"),
        "health_check": state.health_check,
        "tags": list(state.tags),
        "description": state.description,
        "status": state.status,
        "version": state.version,
        "deleted": state.deleted,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "last_test": state.last_test,
        "status_since": state.status_since,
        "notify": state.notify,
    }


async def save_connection(
    connection: AsyncConnection, before: ConnectionState | None, after: ConnectionState
) -> None:
    """Write ``after`` over ``before`` (None: a new row), keeping the tag rows in step."""
    if before is None:
        await connection.execute(insert(connections).values(state_row(after)))
    else:
        await connection.execute(
            update(connections).where(connections.c.id == after.id).values(state_row(after))
        )
    if before is None or before.tags != after.tags:
        await connection.execute(
            delete(connection_tags).where(connection_tags.c.connection_id == after.id)
        )
        if after.tags:
            await connection.execute(
                insert(connection_tags),
                [{"connection_id": after.id, "tag": tag} for tag in dict.fromkeys(after.tags)],
            )


async def fold_log(
    connection: AsyncConnection, states: dict[str, ConnectionState], after: int = 0
) -> int:
    """Fold the log after position ``after`` into ``states``; returns the last position read."""
    position = after
    while page := await read_after(connection, position, REBUILD_PAGE):
        for event in page:
            folded = apply(states.get(event.stream_id), event)
            if folded is not None:
                states[event.stream_id] = folded
        position = page[-1].position
    return position


async def rebuild(engine: AsyncEngine) -> int:
    """Replace the projection by a fold of the whole log; returns the number of rows.

    The bulk of the log is folded without blocking writers: the connections in memory,
    the alerts into their table (``alerts.rebuild_alerts`` up to the same position, in a
    transaction of its own). Then, holding the chain head so no append interleaves, the
    tail is folded and the connections are replaced in one transaction: readers see the
    old rows until it commits.
    """
    states: dict[str, ConnectionState] = {}
    async with engine.connect() as connection:
        position = await fold_log(connection, states)
    async with write_transaction(engine) as connection:
        await rebuild_alerts(connection, through=position)
    async with write_transaction(engine) as connection:
        return await _replace_all(connection, states, position, alerts_after=position)


async def refold(connection: AsyncConnection) -> int:
    """``rebuild`` within the caller's write transaction (a schema upgrade's), the
    whole log folded while it holds the chain head; returns the number of rows."""
    return await _replace_all(connection, {}, 0, alerts_after=None)


async def _replace_all(
    connection: AsyncConnection,
    states: dict[str, ConnectionState],
    position: int,
    *,
    alerts_after: int | None,
) -> int:
    """Holding the chain head: the log folded on from ``position``, the connections
    replaced, and the alerts folded on from ``alerts_after`` (None: all folded again)."""
    await Appender.begin(connection)
    await fold_log(connection, states, position)
    await connection.execute(delete(connection_tags))
    await connection.execute(delete(connections))
    for state in states.values():
        await save_connection(connection, None, state)
    if alerts_after is None:
        await rebuild_alerts(connection)
    else:
        await fold_alerts_after(connection, alerts_after)
    return len(states)
