"""Handled commands: one row per ``(tenant, command_id)``, the exactly-once guarantee
(``docs/reliability.md`` I2).

The row is written in the same transaction as the command's events, so a
redelivered or re-published command finds it and changes nothing. A command id
is the producer's choice, so it is unique only within a tenant: every lookup names
the tenant the command arrived for (its subject's, which NATS permissions decide),
so one tenant reusing another's command id never reads the other's outcome. The
lookup names tenants and command ids together, so it is a search of the primary key,
never a scan of every command ever handled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.any_of import BACKENDS, arrays_on, one_of
from connmgr.storage.bulk_insert import insert_rows
from connmgr.storage.tables import handled_commands

CommandKey: TypeAlias = tuple[str, str]
"""``(tenant, command_id)``: what identifies a handled command."""


def _outcomes(array: bool) -> Select[Any]:
    table = handled_commands.c
    return select(table.tenant, table.command_id, table.outcome).where(
        one_of(table.tenant, "tenants", array=array),
        one_of(table.command_id, "command_ids", array=array),
    )


_OUTCOMES: Final = {array: _outcomes(array) for array in BACKENDS}


async def find_outcome(
    connection: AsyncConnection, tenant: str, command_id: str
) -> CommandOutcome | None:
    return (await find_outcomes(connection, [(tenant, command_id)])).get((tenant, command_id))


async def find_outcomes(
    connection: AsyncConnection, keys: list[CommandKey]
) -> dict[CommandKey, CommandOutcome]:
    """The recorded outcomes of any of these ``(tenant, command_id)`` keys, in one query
    on the primary key: every tenant named with every command id named, keeping only
    the pairs asked for."""
    wanted = set(keys)
    if not wanted:
        return {}
    parameters = {
        "tenants": sorted({tenant for tenant, _ in wanted}),
        "command_ids": sorted({command_id for _, command_id in wanted}),
    }
    rows = await connection.execute(_OUTCOMES[arrays_on(connection)], parameters)
    return {
        (row.tenant, row.command_id): CommandOutcome.model_validate(row.outcome)
        for row in rows
        if (row.tenant, row.command_id) in wanted
    }


async def record_outcome(connection: AsyncConnection, tenant: str, outcome: CommandOutcome) -> None:
    await record_outcomes(connection, [(tenant, outcome)])


async def record_outcomes(
    connection: AsyncConnection, outcomes: list[tuple[str, CommandOutcome]]
) -> None:
    """Record many ``(tenant, outcome)`` pairs in one statement."""
    if not outcomes:
        return
    now = datetime.now(UTC)
    await insert_rows(
        connection,
        handled_commands,
        [
            {
                "command_id": str(outcome.command_id),
                "connection_id": str(outcome.connection_id) if outcome.connection_id else None,
                "tenant": tenant,
                "outcome": outcome.model_dump(mode="json"),
                "handled_at": now,
            }
            for tenant, outcome in outcomes
        ],
    )
