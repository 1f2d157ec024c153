"""Reads of a tenant's connections by id, for the API's coalesced ``GET`` by id.

Contract (as ``connection_pages``): scoped to one tenant, another tenant's row is invisible
exactly like a missing one, deleted connections are never returned, rows leave as
``ConnectionView``s. Every statement is a lone SELECT (fine on ``autocommit_reads``).

A view is a function of the connection's id and version: the projection is a fold of
the connection's events and every event steps the version. So a caller that already
holds views (``known``) asks only for their live versions, a narrow read that decodes
no JSON, and reuses the views whose version is still the live one; only unknown ids
and changed connections are read in full. A read never returns a row older than the
live one when its statement started. On PostgreSQL a caller may pass ``live_versions()``
(``live_versions``): the narrow read then goes on the driver's own connections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Column, ColumnElement, RowMapping, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.any_of import BACKENDS, arrays_on, one_of
from connmgr.storage.database import POOL_RECYCLE_S
from connmgr.storage.reads.live_versions import SIZE as LIVE_VERSIONS_SIZE
from connmgr.storage.reads.live_versions import LiveVersions
from connmgr.storage.reads.views import ConnectionView, connection_view
from connmgr.storage.tables import connections


def _live(ids: ColumnElement[bool], *columns: Column[Any]) -> Select[Any]:
    # The ids are looked up by primary key, and only then filtered by tenant: OFFSET 0
    # keeps PostgreSQL from merging the two and walking the (tenant, name, id) index,
    # which costs a scan of the tenant's whole range per id when its statistics are
    # missing or a generic plan misjudges the tenant's size.
    chosen = columns or tuple(connections.c)
    c = connections.c
    by_id = select(*chosen, c.tenant, c.deleted).where(ids).offset(0).subquery("by_id")
    shown = [by_id.c[column.name] for column in chosen]
    return select(*shown).where(by_id.c.tenant == bindparam("tenant"), by_id.c.deleted.is_(False))


def _by_id(array: bool) -> ColumnElement[bool]:
    return one_of(connections.c.id, "connection_ids", array=array)


# By whether the backend takes arrays (``any_of``).
_ROWS: Final = {array: _live(_by_id(array)) for array in BACKENDS}
_VERSIONS: Final = {
    array: _live(_by_id(array), connections.c.id, connections.c.version) for array in BACKENDS
}


def live_versions(
    engine: AsyncEngine, *, size: int = LIVE_VERSIONS_SIZE, recycle_s: float = POOL_RECYCLE_S
) -> LiveVersions | None:
    """The version read on the driver's connections for a PostgreSQL ``engine``, else None."""
    return LiveVersions.on(engine, _VERSIONS[True], size=size, recycle_s=recycle_s)


async def get_connections(
    engine: AsyncEngine,
    tenant: str,
    connection_ids: Sequence[str],
    known: Mapping[str, ConnectionView] | None = None,
    versions: LiveVersions | None = None,
) -> dict[str, ConnectionView]:
    """The tenant's live connections among ``connection_ids``, by id.

    ``known`` views (by id, of any version) are returned as they are when their
    version is still the live one (read by ``versions`` when given); the rest are read
    in full. An id that is absent, deleted or another tenant's is simply not in the result.
    """
    if not connection_ids:
        return {}
    known = known or {}
    array = arrays_on(engine)
    held = [cid for cid in dict.fromkeys(connection_ids) if cid in known]
    unknown = [cid for cid in dict.fromkeys(connection_ids) if cid not in known]
    found: dict[str, ConnectionView] = {}
    if held and versions is not None:
        versioned = await versions.read_if_free(tenant, held)
        if versioned is not None:  # else every driver connection is busy: through the pool
            unknown += _reuse(known, versioned, tenant, found)
            held = []
    if not held and not unknown:
        return found
    async with engine.connect() as connection:
        if held:
            live = await _select(connection, _VERSIONS[array], tenant, held)
            unknown += _reuse(known, {row["id"]: row["version"] for row in live}, tenant, found)
        if unknown:
            for row in await _select(connection, _ROWS[array], tenant, unknown):
                found[row["id"]] = connection_view(row)
    return found


def _reuse(
    known: Mapping[str, ConnectionView],
    live: Mapping[str, int],
    tenant: str,
    found: dict[str, ConnectionView],
) -> list[str]:
    """Put in ``found`` the known views still at their live version; the ids to read again."""
    stale = []
    for connection_id, version in live.items():
        view = known[connection_id]
        if view.version == version and view.tenant == tenant:
            found[connection_id] = view
        else:
            stale.append(connection_id)
    return stale


async def _select(
    connection: AsyncConnection, query: Select[Any], tenant: str, ids: list[str]
) -> Sequence[RowMapping]:
    parameters = {"connection_ids": ids, "tenant": tenant}
    return (await connection.execute(query, parameters)).mappings().all()
