"""Writing check results: samples, probe state and status events, one transaction per flush.

For a flush of results: insert the samples (a ``check_id`` already stored — a
redelivered firing — is ignored and does not step the state machine twice),
lock the probe-state rows of the connections concerned (in id order), step
each connection's state machine once per new sample, in check order, and
append the events it produced to the connection's stream, folded into the
projection (``HealthStatusChanged`` moves its status). Manual checks also get
their outcome recorded under their command id, for the reply.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.events import event_type_of
from connmgr.schemas.health import HealthCheckSettings, HealthStatus
from connmgr.schemas.outcomes import CommandOutcome
from connmgr.schemas.probe_commands import CheckConnection
from connmgr.storage.command_log import find_outcome, record_outcome
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent
from connmgr.storage.probe_states import lock_probe_states, save_probe_state, statuses
from connmgr.storage.projection import ConnectionState, apply
from connmgr.storage.projection_store import load_connection, save_connection
from connmgr.storage.samples import NewSample, insert_samples
from connmgr.workers.checks.base import CheckResult
from connmgr.workers.command_records import event_metadata
from connmgr.workers.prober.state_machine import Context, Observation, ProbeState, step
from connmgr.workers.tester.recorder import test_result


@dataclass(frozen=True, slots=True)
class CheckRecord:
    check_id: str
    connection_id: str
    tenant: str
    checked_at: datetime
    result: CheckResult
    command: CheckConnection | None = None  # a manual check, answered by command id


@dataclass(frozen=True, slots=True)
class Recorded:
    counted: bool
    outcome: CommandOutcome | None = None


async def record_checks(engine: AsyncEngine, records: list[CheckRecord]) -> list[Recorded]:
    async with write_transaction(engine) as connection:
        fresh = await insert_samples(connection, [_sample(r) for r in records])
        counted = [r for r in records if r.check_id in fresh]
        states = await lock_probe_states(connection, (r.connection_id for r in counted))
        writer = _StatusWriter(connection, states)
        for record in counted:
            await writer.step(record)
        await writer.finish()
        return [await _recorded(connection, r, r.check_id in fresh) for r in records]


def _sample(record: CheckRecord) -> NewSample:
    return NewSample(
        check_id=record.check_id,
        connection_id=record.connection_id,
        tenant=record.tenant,
        checked_at=record.checked_at,
        outcome=record.result.outcome.value,
        latency_ms=record.result.latency_ms,
        phases=record.result.phases,
    )


async def _recorded(connection: AsyncConnection, record: CheckRecord, counted: bool) -> Recorded:
    command = record.command
    if command is None:
        return Recorded(counted)
    previous = await find_outcome(connection, str(command.command_id))
    if previous is not None:
        return Recorded(counted, previous)
    outcome = CommandOutcome(
        command_id=command.command_id,
        connection_id=command.connection_id,
        outcome="accepted",
        version=None,
        events=[],
        result=test_result(record.result).model_dump(mode="json"),
    )
    await record_outcome(connection, record.tenant, outcome)
    return Recorded(counted, outcome)


class _StatusWriter:
    def __init__(self, connection: AsyncConnection, rows: dict[str, dict[str, Any]]) -> None:
        self._connection = connection
        self._rows = rows
        self._existed = set(rows)
        self._appender: Appender | None = None

    async def step(self, record: CheckRecord) -> None:
        state = await load_connection(self._connection, record.connection_id)
        if state is None or state.deleted or state.tenant != record.tenant:
            return
        settings = HealthCheckSettings.model_validate(state.health_check)
        probe = self._probe_state(record)
        context = Context(
            settings=settings, dependencies_down=await self._deps_down(state, settings)
        )
        observation = Observation(
            outcome=record.result.outcome.value,
            latency_ms=record.result.latency_ms,
            checked_at=record.checked_at,
            manual=record.command is not None,
        )
        transition = step(probe, observation, context, new_alert_id=uuid.uuid4)
        self._rows[record.connection_id] = _as_row(transition.state)
        if transition.events:
            await self._append(record, state, transition.events)

    def _probe_state(self, record: CheckRecord) -> ProbeState:
        row = self._rows.get(record.connection_id)
        if row is None:
            return ProbeState.initial(record.connection_id, record.tenant)
        return ProbeState.from_row(row)

    async def _deps_down(self, state: ConnectionState, settings: HealthCheckSettings) -> bool:
        ids = [str(dependency) for dependency in settings.depends_on]
        found = await statuses(self._connection, state.tenant, ids)
        return any(status == HealthStatus.DOWN for status in found.values())

    async def _append(self, record: CheckRecord, state: ConnectionState, events: list[Any]) -> None:
        if self._appender is None:
            self._appender = await Appender.begin(self._connection)
        metadata = {"command_id": None, "actor_id": "prober", "tenant": state.tenant}
        if record.command is not None:
            metadata = event_metadata(record.command).model_dump(mode="json")
        pending = [
            PendingEvent(
                stream_id=state.id,
                version=state.version + index,
                type=event_type_of(data),
                tenant=state.tenant,
                data=data.model_dump(mode="json"),
                metadata=metadata,
            )
            for index, data in enumerate(events, start=1)
        ]
        after: ConnectionState | None = state
        for event in await self._appender.append(pending):
            after = apply(after, event)
        assert after is not None
        await save_connection(self._connection, state, replace(after))

    async def finish(self) -> None:
        for connection_id, row in self._rows.items():
            await save_probe_state(self._connection, row, existed=connection_id in self._existed)
            self._existed.add(connection_id)
        if self._appender is not None:
            await self._appender.finish()


def _as_row(state: ProbeState) -> dict[str, Any]:
    return state.to_row()
