"""One transaction per fetched batch: the encryptor's unit of work.

Holding the chain head: read what the batch needs in two queries (outcomes
already recorded for its command ids, the states of its connections), decide
every message in memory (``planner``), then write the plan in a few bulk
statements — events, projection rows, data keys, handled commands. If writing
the plan fails, the batch falls back to one savepoint per message, so one bad
message cannot hold back the others. Nothing is acknowledged before the commit
(the pool adapter acks afterwards).
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.commands import parse_encryptor_command
from connmgr.schemas.outcomes import Rejection
from connmgr.storage.command_log import find_outcomes, record_outcomes
from connmgr.storage.data_keys import replace_data_keys
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import load_connections, save_changed_connections
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.planner import Handled, Inbound, Planner

log = structlog.get_logger("connmgr.encryptor")

__all__ = ["EncryptorBatch", "Handled", "Inbound"]


class EncryptorBatch:
    def __init__(self, engine: AsyncEngine, ports: EncryptorPorts, max_deliver: int) -> None:
        self._engine = engine
        self._ports = ports
        self._max_deliver = max_deliver

    async def process(self, items: list[Inbound]) -> list[Handled]:
        """Handle a batch in one transaction; raises when the transaction cannot commit."""
        async with write_transaction(self._engine) as connection:
            appender = await Appender.begin(connection)
            start = appender.mark()
            try:
                async with connection.begin_nested():
                    results = await self._decide_and_write(connection, appender, items)
            except Exception:
                appender.rewind(start)
                log.warning("batch_split", size=len(items), exc_info=True)
                results = [await self._alone(connection, appender, item) for item in items]
            await appender.finish()
        return results

    async def _alone(
        self, connection: AsyncConnection, appender: Appender, item: Inbound
    ) -> Handled:
        mark = appender.mark()
        try:
            async with connection.begin_nested():
                (result,) = await self._decide_and_write(connection, appender, [item])
                return result
        except Exception:
            appender.rewind(mark)
            log.exception("command_failed", stream_sequence=item.stream_sequence)
        if item.num_delivered < self._max_deliver:
            return Handled(None, None)
        async with connection.begin_nested():
            return await self._set_aside(connection, appender, item)

    async def _set_aside(
        self, connection: AsyncConnection, appender: Appender, item: Inbound
    ) -> Handled:
        """The last delivery failed too: record ``max_deliveries`` so it ends somewhere."""
        planner = Planner(self._ports, self._max_deliver, {}, {})
        result = planner.set_aside(item)
        await _write(connection, appender, planner, {})
        return result

    async def _decide_and_write(
        self, connection: AsyncConnection, appender: Appender, items: list[Inbound]
    ) -> list[Handled]:
        parsed = [parse_encryptor_command(item.data) for item in items]
        identities = [str(item.identity(p)) for item, p in zip(items, parsed, strict=True)]
        connection_ids = sorted(
            {str(p.connection_id) for p in parsed if not isinstance(p, Rejection)}
        )
        recorded = await find_outcomes(connection, identities)
        states = await load_connections(connection, connection_ids)
        planner = Planner(self._ports, self._max_deliver, recorded, dict(states))
        results = [
            await planner.decide(item, command) for item, command in zip(items, parsed, strict=True)
        ]
        await _write(connection, appender, planner, states)
        return results


async def _write(
    connection: AsyncConnection,
    appender: Appender,
    planner: Planner,
    before: dict[str, ConnectionState | None],
) -> None:
    plan = planner.plan
    await appender.append(plan.events, recorded_at=planner.now)
    await save_changed_connections(connection, before, planner.touched_states())
    await replace_data_keys(connection, plan.data_keys)
    await record_outcomes(connection, plan.outcomes)
