"""What the prober reads before a check, for many connections in one statement each.

``read_check_heads`` is the per-check read: tenant, version, deleted and whether
probing is suspended, for every id asked at once (a few small columns; no JSON,
no secrets). ``load_check_sources`` is the rare read, for the connections whose
version a prober has not prepared yet: the whole projection row and the wrapped
data key. Both run as a single statement on a connection of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.any_of import BACKENDS, arrays_on, one_of
from connmgr.storage.data_keys import WrappedDataKey
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import state_from_row
from connmgr.storage.tables import connections, data_keys, probe_state


@dataclass(frozen=True, slots=True)
class CheckHead:
    """A connection's identity and version as of the read, and its probe suspension."""

    tenant: str
    version: int
    deleted: bool
    suspended: bool


@dataclass(frozen=True, slots=True)
class CheckSource:
    """A connection's projection row and its wrapped data key (None when it has none)."""

    state: ConnectionState
    data_key: WrappedDataKey | None


def _ids(array: bool) -> ColumnElement[bool]:
    return one_of(connections.c.id, "ids", array=array)


def _heads(array: bool) -> Select[Any]:
    c = connections.c
    joined = connections.outerjoin(probe_state, probe_state.c.connection_id == c.id)
    columns = (c.id, c.tenant, c.version, c.deleted, probe_state.c.suspended)
    return select(*columns).select_from(joined).where(_ids(array))


def _sources(array: bool) -> Select[Any]:
    joined = connections.outerjoin(data_keys, data_keys.c.connection_id == connections.c.id)
    key_columns = (data_keys.c.kek_id, data_keys.c.wrapped_key)
    return select(connections, *key_columns).select_from(joined).where(_ids(array))


# By whether the backend takes arrays (``any_of``).
_HEADS: Final = {array: _heads(array) for array in BACKENDS}
_SOURCES: Final = {array: _sources(array) for array in BACKENDS}


async def read_check_heads(engine: AsyncEngine, ids: Sequence[str]) -> dict[str, CheckHead]:
    """The heads of these connections, by id; an absent id is not in the result."""
    if not ids:
        return {}
    query = _HEADS[arrays_on(engine)]
    async with engine.connect() as connection:
        rows = (await connection.execute(query, {"ids": list(ids)})).all()
    return {row.id: CheckHead(row.tenant, row.version, row.deleted, bool(row.suspended))
            for row in rows}  # fmt: skip


async def load_check_sources(engine: AsyncEngine, ids: Sequence[str]) -> dict[str, CheckSource]:
    """The rows and data keys of these connections, by id; an absent id is not in it."""
    if not ids:
        return {}
    query = _SOURCES[arrays_on(engine)]
    async with engine.connect() as connection:
        rows = (await connection.execute(query, {"ids": list(ids)})).mappings().all()
    return {row["id"]: CheckSource(state_from_row(row), _data_key(row)) for row in rows}


def _data_key(row: Any) -> WrappedDataKey | None:
    if row["kek_id"] is None:
        return None
    return WrappedDataKey(row["kek_id"], bytes(row["wrapped_key"]))
