"""Writing check results: samples, probe state and status events, one transaction per flush.

For a flush of results: insert the samples (a ``check_id`` already stored — a
redelivered firing — is ignored and does not step the state machine twice),
lock the probe-state rows of the connections concerned (in id order), step
each connection's state machine once per new sample, in check order, write the
probe states, and append the events it produced to the connection's stream,
folded into the projection (``HealthStatusChanged`` moves its status; alerts are
folded into ``alerts``). Manual
checks also get their outcome recorded under ``(tenant, command id)``, for the reply.
The global chain head is taken last, and only by a flush with events, so it is
held for the appends and their projection rows, not for the samples and states.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.events import event_type_of
from connmgr.schemas.health import HealthCheckSettings, HealthStatus
from connmgr.schemas.outcomes import CommandOutcome
from connmgr.schemas.probe_commands import CheckConnection
from connmgr.storage.alerts import fold_alerts
from connmgr.storage.command_log import find_outcomes, record_outcomes
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent, StoredEvent
from connmgr.storage.probe_states import lock_probe_states, save_probe_states, statuses_of
from connmgr.storage.projection import ConnectionState, apply
from connmgr.storage.projection_store import load_connections, save_changed_connections
from connmgr.storage.samples import NewSample, insert_samples
from connmgr.workers.checks.base import CheckResult
from connmgr.workers.checks.results import test_result
from connmgr.workers.command_records import event_metadata
from connmgr.workers.prober.state_machine import Context, Observation, ProbeState, step


@dataclass(frozen=True, slots=True)
class CheckRecord:
    check_id: str
    connection_id: str
    tenant: str
    checked_at: datetime
    result: CheckResult
    command: CheckConnection | None = None  # a manual check, answered by command id
    traceparent: str | None = None  # its ``prober check`` span's, kept in its events' metadata


@dataclass(frozen=True, slots=True)
class Recorded:
    counted: bool
    outcome: CommandOutcome | None = None


async def record_checks(engine: AsyncEngine, records: list[CheckRecord]) -> list[Recorded]:
    async with write_transaction(engine) as connection:
        fresh = await insert_samples(connection, [_sample(r) for r in records])
        counted = [r for r in records if r.check_id in fresh]
        ids = sorted({r.connection_id for r in counted})
        rows = await lock_probe_states(connection, ids)
        existed = set(rows)
        before = await load_connections(connection, ids)
        dependencies = {str(d) for s in before.values() if s for d in _settings(s).depends_on}
        writer = _StatusWriter(rows, dict(before), await statuses_of(connection, dependencies))
        for record in counted:
            writer.step(record)
        await save_probe_states(connection, writer.rows, existed=existed)
        answers = await _answers(connection, records, fresh)
        if writer.events:
            # Last, so the global chain head is held only for the rare status events and
            # the connection rows they move (always locked after the head: no deadlock
            # with the encryptor, which takes them in the same order).
            appender = await Appender.begin(connection)
            appended = await appender.append(writer.events, recorded_at=writer.now)
            await appender.finish()
            await save_changed_connections(connection, before, writer.touched_states())
            await fold_alerts(connection, appended)
        return answers


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


async def _answers(
    connection: AsyncConnection, records: list[CheckRecord], fresh: set[str]
) -> list[Recorded]:
    """Outcomes of manual checks (recorded once per command id) and what counted."""
    manual = [(r.tenant, str(r.command.command_id)) for r in records if r.command is not None]
    recorded = await find_outcomes(connection, manual)
    new: list[tuple[str, CommandOutcome]] = []
    answers = []
    for record in records:
        command = record.command
        if command is None:
            answers.append(Recorded(record.check_id in fresh))
            continue
        key = (record.tenant, str(command.command_id))
        outcome = recorded.get(key)
        if outcome is None:
            outcome = CommandOutcome(
                command_id=command.command_id,
                connection_id=command.connection_id,
                outcome="accepted",
                version=None,
                events=[],
                result=test_result(record.result).model_dump(mode="json"),
            )
            recorded[key] = outcome
            new.append((record.tenant, outcome))
        answers.append(Recorded(record.check_id in fresh, outcome))
    await record_outcomes(connection, new)
    return answers


def _settings(state: ConnectionState) -> HealthCheckSettings:
    return HealthCheckSettings.model_validate(state.health_check, strict=False)


class _StatusWriter:
    """Steps each connection's state machine in memory; the caller writes the result."""

    def __init__(
        self,
        rows: dict[str, dict[str, Any]],
        states: dict[str, ConnectionState | None],
        dependencies: dict[str, tuple[str, str]],
    ) -> None:
        self.now = datetime.now(UTC)
        self.rows = rows
        self.events: list[PendingEvent] = []
        self._states = states
        self._dependencies = dependencies
        self._touched: set[str] = set()

    def touched_states(self) -> dict[str, ConnectionState]:
        return {cid: state for cid in self._touched if (state := self._states.get(cid))}

    def step(self, record: CheckRecord) -> None:
        state = self._states.get(record.connection_id)
        if state is None or state.deleted or state.tenant != record.tenant:
            return
        settings = _settings(state)
        row = self.rows.get(record.connection_id)
        probe = (
            ProbeState.from_row(row)
            if row is not None
            else ProbeState.initial(record.connection_id, record.tenant)
        )
        context = Context(settings=settings, dependencies_down=self._deps_down(state, settings))
        observation = Observation(
            outcome=record.result.outcome.value,
            latency_ms=record.result.latency_ms,
            checked_at=record.checked_at,
            manual=record.command is not None,
        )
        transition = step(probe, observation, context, new_alert_id=uuid.uuid4)
        self.rows[record.connection_id] = _as_row(transition.state)
        if transition.events:
            self._append(record, state, list(transition.events))

    def _deps_down(self, state: ConnectionState, settings: HealthCheckSettings) -> bool:
        return any(
            self._dependencies.get(str(dependency)) == (state.tenant, HealthStatus.DOWN)
            for dependency in settings.depends_on
        )

    def _append(self, record: CheckRecord, state: ConnectionState, events: list[Any]) -> None:
        metadata: dict[str, Any] = {
            "command_id": None,
            "actor_id": "prober",
            "tenant": state.tenant,
        }
        if record.command is not None:
            metadata = event_metadata(record.command).model_dump(mode="json")
        if record.traceparent is not None:
            metadata["traceparent"] = record.traceparent
        after: ConnectionState | None = state
        for index, data in enumerate(events, start=1):
            event = PendingEvent(state.id, state.version + index, event_type_of(data),
                                 state.tenant, data.model_dump(mode="json"), metadata)  # fmt: skip
            self.events.append(event)
            after = apply(after, _as_stored(event, self.now))
        assert after is not None
        self._states[state.id] = after
        self._touched.add(state.id)


def _as_stored(event: PendingEvent, recorded_at: datetime) -> StoredEvent:
    return StoredEvent(0, "", event.stream_id, event.version, event.type, event.tenant,
                       event.data, event.metadata, recorded_at, "")  # fmt: skip


def _as_row(state: ProbeState) -> dict[str, Any]:
    return state.to_row()
