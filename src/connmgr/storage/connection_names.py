"""Connection names per tenant: who holds a name now, and the duplicates older data has.

Names are unique among a tenant's live connections; the encryptor enforces it under
the chain head (``workers/encryptor/names``), with no unique index, since databases
written before the rule may hold duplicates (``docs/decisions.md``, "Unique names").
``duplicate_names`` reports those for an operator to rename.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.tables import connections

NameKey = tuple[str, str]
"""``(tenant, name)``."""


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
        c = connections.c
        query = select(c.id, c.tenant, c.name).where(
            c.deleted.is_(False),
            c.tenant.in_(sorted({tenant for tenant, _ in wanted})),
            c.name.in_(sorted({name for _, name in wanted})),
        )
        for row in await connection.execute(query):
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
