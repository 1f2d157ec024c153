"""Connection names per tenant: who holds a name now, and the duplicates older data has.

Names are unique among a tenant's live connections; the encryptor enforces it under
the chain head (``workers/encryptor/names``), with no unique index, since databases
written before the rule may hold duplicates (``docs/decisions.md``, "Unique names").
``duplicate_names`` reports those for an operator to rename.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.any_of import BACKENDS, arrays_on, one_of
from connmgr.storage.tables import connections

NameKey = tuple[str, str]
"""``(tenant, name)``."""


def _holders(array: bool) -> Select[Any]:
    c = connections.c
    return select(c.id, c.tenant, c.name).where(
        c.deleted.is_(False),
        one_of(c.tenant, "tenants", array=array),
        one_of(c.name, "names", array=array),
    )


_HOLDERS: Final = {array: _holders(array) for array in BACKENDS}
"""By whether the backend takes arrays (``any_of``)."""


@dataclass(frozen=True, slots=True)
class DuplicateName:
    tenant: str
    name: str
    connection_ids: tuple[str, ...]


async def holders_of(
    connection: AsyncConnection, keys: Iterable[NameKey]
) -> dict[NameKey, frozenset[str]]:
    """The live connections holding each ``(tenant, name)`` (an empty set when none), in
    one query on ``ix_connections_tenant_name``."""
    wanted = set(keys)
    found: dict[NameKey, set[str]] = {key: set() for key in wanted}
    if wanted:
        parameters = {
            "tenants": sorted({tenant for tenant, _ in wanted}),
            "names": sorted({name for _, name in wanted}),
        }
        for row in await connection.execute(_HOLDERS[arrays_on(connection)], parameters):
            if (row.tenant, row.name) in found:
                found[(row.tenant, row.name)].add(row.id)
    return {key: frozenset(ids) for key, ids in found.items()}


async def duplicate_names(
    connection: AsyncConnection, tenant: str | None = None
) -> list[DuplicateName]:
    """Every name two or more live connections of one tenant share, by tenant and name."""
    c = connections.c
    shared = (
        select(c.tenant, c.name)
        .where(c.deleted.is_(False))
        .group_by(c.tenant, c.name)
        .having(func.count() > 1)
    )
    if tenant is not None:
        shared = shared.where(c.tenant == tenant)
    pairs = {(row.tenant, row.name) for row in await connection.execute(shared)}
    held = await holders_of(connection, pairs)
    return [
        DuplicateName(tenant, name, tuple(sorted(held[(tenant, name)])))
        for tenant, name in sorted(pairs)
    ]
