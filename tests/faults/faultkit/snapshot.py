"""Everything the checker reads once the system is drained, gathered in one place.

From the database: every outcome of ``handled_commands``, every event of the log
(with the command id of its metadata), the live projection, the projection
folded again from the whole log (``projection_store.fold_log``) and the audit
of the hash chain; from the broker: the event stream read back and the
encryptor consumer's sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from connmgr.storage.audit import AuditReport, verify_chain
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import fold_log, load_all
from connmgr.storage.tables import events, handled_commands
from faultkit.cluster import Cluster
from faultkit.observe import ConsumerStats, RelayedEvent, encryptor_stats, read_event_stream


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    position: int
    event_id: str
    stream_id: str
    version: int
    type: str
    tenant: str
    command_id: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    outcomes: dict[str, dict[str, Any]]
    handled_at: dict[str, float]
    events: list[LoggedEvent]
    live: dict[str, ConnectionState]
    folded: dict[str, ConnectionState]
    chain: AuditReport
    relayed: list[RelayedEvent]
    consumer: ConsumerStats


async def take_snapshot(cluster: Cluster) -> Snapshot:
    async with cluster.engine.connect() as connection:
        rows = await connection.execute(
            select(
                handled_commands.c.command_id,
                handled_commands.c.outcome,
                handled_commands.c.handled_at,
            )
        )
        handled = list(rows)
        logged = await connection.execute(
            select(
                events.c.position,
                events.c.event_id,
                events.c.stream_id,
                events.c.version,
                events.c.type,
                events.c.tenant,
                events.c.metadata,
            ).order_by(events.c.position)
        )
        log = [_logged(row) for row in logged]
        live = await load_all(connection)
        folded: dict[str, ConnectionState] = {}
        await fold_log(connection, folded)
    return Snapshot(
        outcomes={row.command_id: row.outcome for row in handled},
        handled_at={row.command_id: row.handled_at.timestamp() for row in handled},
        events=log,
        live=live,
        folded=folded,
        chain=await verify_chain(cluster.engine),
        relayed=await read_event_stream(cluster.nc) if cluster.relay is not None else [],
        consumer=await encryptor_stats(cluster.nc),
    )


def _logged(row: Any) -> LoggedEvent:
    command_id = (row.metadata or {}).get("command_id")
    return LoggedEvent(
        position=row.position,
        event_id=row.event_id,
        stream_id=row.stream_id,
        version=row.version,
        type=row.type,
        tenant=row.tenant,
        command_id=str(command_id) if command_id else None,
    )
