"""One transaction per fetched batch: the encryptor's unit of work.

Read what the batch needs in two queries (outcomes already recorded for its
``(tenant, command id)`` keys — the subject's tenant, vetted by the gate, so only
the sender's own records — and the states of its connections) and decide every message in memory
(``planner``: unsealing, validation, encryption, the fold); only then take the
chain head and write the plan in a few bulk statements — events, projection
rows, data keys, handled commands. The chain head is the one lock every writer
of the log takes, so it is held for the writes alone, never for the CPU work:
another replica, the tester or the prober append meanwhile.

A plan made on rows another writer changed before the chain head was taken is
never written, so no decision, a rejection included, rests on a stale row:
holding the chain head, the batch reads the versions of its connections again
(one narrow query), and who holds the names its creates and renames ask for
(``encryptor.names``; skipped when there are none), and, if any moved or appeared,
plans the batch again there.
If writing fails (a command handled meanwhile collides on its command id, or
anything else), the batch falls back to one savepoint per message, each decided
again on what is committed, so one bad message cannot hold back the others.
Nothing is acknowledged before the commit (the pool adapter acks afterwards).
Each message is decided inside its own log context (``Inbound.log_fields``), so
``command_failed`` names it.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.storage.command_log import find_outcomes, record_outcomes
from connmgr.storage.connection_names import NameKey, holders_of
from connmgr.storage.data_keys import replace_data_keys
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import (
    load_connections,
    save_changed_connections,
    versions_of,
)
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.names import TenantNames, wanted_name
from connmgr.workers.encryptor.planner import Handled, Inbound, Planner
from connmgr.workers.message_context import bound

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
            planned = await self._plan(connection, items)
            appender = await Appender.begin(connection)
            start = appender.mark()
            results = await self._write_planned(connection, appender, planned)
            if results is None:
                appender.rewind(start)
                results = await self._each_alone(connection, appender, items)
            await appender.finish()
        return results

    async def _write_planned(
        self, connection: AsyncConnection, appender: Appender, planned: _Planned
    ) -> list[Handled] | None:
        """Write the plan (made again if it is stale) holding the chain head; None when
        it cannot be written."""
        states = planned.states
        planned_on = {cid: state.version for cid, state in states.items() if state is not None}
        moved = await versions_of(connection, list(states)) != planned_on
        if moved or await holders_of(connection, planned.holders) != planned.holders:
            log.info("batch_replanned", size=len(planned.results), reason="rows moved")
            planned = await self._plan(connection, planned.items)
        try:
            async with connection.begin_nested():
                await _write(connection, appender, planned.planner, planned.states)
        except Exception:
            log.warning("batch_split", size=len(planned.results), exc_info=True)
            return None
        return planned.results

    async def _each_alone(
        self, connection: AsyncConnection, appender: Appender, items: list[Inbound]
    ) -> list[Handled]:
        results: list[Handled] = []
        for item in items:
            with bound(**item.log_fields):
                results.append(await self._alone(connection, appender, item))
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
        result = planner.set_aside(item.admission(), item.traceparent)
        await _write(connection, appender, planner, {})
        return result

    async def _decide_and_write(
        self, connection: AsyncConnection, appender: Appender, items: list[Inbound]
    ) -> list[Handled]:
        planned = await self._plan(connection, items)
        await _write(connection, appender, planned.planner, planned.states)
        return planned.results

    async def _plan(self, connection: AsyncConnection, items: list[Inbound]) -> _Planned:
        """Every message decided in memory on the rows as they are now (two reads)."""
        admissions = [item.admission() for item in items]
        connection_ids = sorted(
            {str(a.command.connection_id) for a in admissions if a.command and not a.rejection}
        )
        recorded = await find_outcomes(connection, [a.key for a in admissions])
        states = await load_connections(connection, connection_ids)
        wanted = {wanted_name(a.command) for a in admissions if a.command and not a.rejection}
        holders = await holders_of(connection, {key for key in wanted if key is not None})
        names = TenantNames(holders)
        planner = Planner(self._ports, self._max_deliver, recorded, dict(states), names=names)
        results: list[Handled] = []
        for item, admission in zip(items, admissions, strict=True):
            with bound(**item.log_fields):
                results.append(await planner.decide(item, admission))
        return _Planned(items, planner, states, results, holders)


@dataclass(frozen=True, slots=True)
class _Planned:
    items: list[Inbound]
    planner: Planner
    states: dict[str, ConnectionState | None]
    results: list[Handled]
    holders: dict[NameKey, frozenset[str]]
    """Who held each name the batch asks for, as it was planned (``encryptor.names``)."""


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
