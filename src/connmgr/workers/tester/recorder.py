"""Writing test results: one transaction per flush of the batch writer.

Holding the chain head, a flush reads what it needs in two queries (outcomes
already recorded for its ``(tenant, command id)`` keys — a redelivered test another replica
already recorded is not recorded twice — and the connections tested), decides
every record in memory, in order — a rejection, a draft's ``ConnectionTested``
in a stream of its own, or the connection's ``ConnectionTested`` at its next
version, folded into the projection (the last result per connection) — and
writes it all in a few bulk statements.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.check_results import TestResult
from connmgr.schemas.command_parsing import CommandHeader
from connmgr.schemas.events import ConnectionTested
from connmgr.schemas.outcomes import CommandOutcome, Reason, Rejection
from connmgr.schemas.probe_commands import ProbeCommand
from connmgr.storage.command_log import CommandKey, find_outcomes, record_outcomes
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent, StoredEvent
from connmgr.storage.projection import ConnectionState, apply
from connmgr.storage.projection_store import load_connections, save_changed_connections
from connmgr.workers.checks.base import CheckResult
from connmgr.workers.checks.results import test_result
from connmgr.workers.command_records import command_scoped_id, event_metadata, rejection_records

log = structlog.get_logger("connmgr.tester")
DRAFT_NAMESPACE: Final = uuid.UUID("0b8f3a51-7c2e-4f4b-9d1e-5a6c7b8d9e0f")


@dataclass(frozen=True, slots=True)
class TestRecord:
    """One outcome to record: a rejection, or a command with its result."""

    __test__ = False  # not a pytest class

    identity: uuid.UUID
    tenant: str
    command: ProbeCommand | None = None
    header: CommandHeader | None = None
    rejection: Rejection | None = None
    result: CheckResult | None = None
    secrets_version: int | None = None
    draft: dict[str, object] | None = None
    traceparent: str | None = None  # its ``tester test`` span's, kept in its event's metadata

    @property
    def key(self) -> CommandKey:
        return (self.tenant, str(self.identity))


async def record_tests(
    engine: AsyncEngine, records: list[TestRecord]
) -> list[CommandOutcome | None]:
    """Record a flush of results in one transaction of a few bulk statements. If that
    fails, each record is tried in a transaction of its own; None marks one that
    could not be written (its message is retried later)."""
    try:
        return list(await _record(engine, records))
    except Exception:
        log.warning("test_records_split", size=len(records), exc_info=True)
    alone: list[CommandOutcome | None] = []
    for record in records:
        try:
            alone += await _record(engine, [record])
        except Exception:
            log.exception("test_record_failed", command_id=str(record.identity))
            alone.append(None)
    return alone


async def _record(engine: AsyncEngine, records: list[TestRecord]) -> list[CommandOutcome]:
    async with write_transaction(engine) as connection:
        appender = await Appender.begin(connection)
        recorded = await find_outcomes(connection, [r.key for r in records])
        stored = sorted({str(r.command.connection_id) for r in records if r.command})
        before = await load_connections(connection, stored)
        plan = _TestPlan(recorded, dict(before))
        outcomes = [plan.add(record) for record in records]
        await appender.append(plan.events, recorded_at=plan.now)
        await save_changed_connections(connection, before, plan.touched_states())
        await record_outcomes(connection, plan.outcomes)
        await appender.finish()
    return outcomes


class _TestPlan:
    """Decides, in memory and in order, what each record appends and answers."""

    def __init__(
        self, recorded: dict[CommandKey, CommandOutcome], states: dict[str, ConnectionState | None]
    ) -> None:
        self.now = datetime.now(UTC)
        self.events: list[PendingEvent] = []
        self.outcomes: list[tuple[str, CommandOutcome]] = []
        self._recorded = recorded
        self._states = states
        self._touched: set[str] = set()

    def touched_states(self) -> dict[str, ConnectionState]:
        return {cid: state for cid in self._touched if (state := self._states.get(cid))}

    def add(self, record: TestRecord) -> CommandOutcome:
        if (previous := self._recorded.get(record.key)) is not None:
            return previous
        command, result = record.command, record.result
        if record.rejection is not None or command is None or result is None:
            rejection = record.rejection or Rejection(Reason.INVALID_COMMAND, "nothing to record")
            return self._reject(record, rejection)
        tested = test_result(result)
        if record.draft is not None:
            data = ConnectionTested(
                result=tested, draft=record.draft, connection_id=command.connection_id
            )
            stream = command_scoped_id(DRAFT_NAMESPACE, command.actor.tenant, command.command_id)
            self.events.append(_pending(command, stream, 1, data, record.traceparent))
            return self._accepted(command, None, tested)
        return self._stored(record, command, tested)

    def _stored(
        self, record: TestRecord, command: ProbeCommand, tested: TestResult
    ) -> CommandOutcome:
        connection_id = str(command.connection_id)
        state = self._states.get(connection_id)
        if state is None or state.deleted or state.tenant != command.actor.tenant:
            rejection = Rejection(
                Reason.NOT_FOUND, "the connection was deleted before the test ended"
            )
            return self._reject(record, rejection)
        data = ConnectionTested(
            result=tested, tested_version=state.version, secrets_version=record.secrets_version
        )
        version = state.version + 1
        event = _pending(command, connection_id, version, data, record.traceparent)
        self.events.append(event)
        after = apply(state, _as_stored(event, self.now))
        assert after is not None
        self._states[connection_id] = after
        self._touched.add(connection_id)
        return self._accepted(command, after.version, tested)

    def _reject(self, record: TestRecord, rejection: Rejection) -> CommandOutcome:
        event, outcome = rejection_records(
            record.tenant,
            rejection,
            command=record.command,
            header=record.header,
            identity=record.identity,
            traceparent=record.traceparent,
        )
        self.events.append(event)
        return self._remember(record.tenant, outcome)

    def _accepted(
        self, command: ProbeCommand, version: int | None, tested: TestResult
    ) -> CommandOutcome:
        outcome = CommandOutcome(
            command_id=command.command_id,
            connection_id=command.connection_id,
            outcome="accepted",
            version=version,
            events=["ConnectionTested"],
            result=tested.model_dump(mode="json"),
        )
        return self._remember(command.actor.tenant, outcome)

    def _remember(self, tenant: str, outcome: CommandOutcome) -> CommandOutcome:
        self.outcomes.append((tenant, outcome))
        self._recorded[(tenant, str(outcome.command_id))] = outcome
        return outcome


def _as_stored(event: PendingEvent, recorded_at: datetime) -> StoredEvent:
    return StoredEvent(0, "", event.stream_id, event.version, event.type, event.tenant,
                       event.data, event.metadata, recorded_at, "")  # fmt: skip


def _pending(
    command: ProbeCommand,
    stream_id: str,
    version: int,
    data: ConnectionTested,
    traceparent: str | None,
) -> PendingEvent:
    return PendingEvent(
        stream_id=stream_id,
        version=version,
        type="ConnectionTested",
        tenant=command.actor.tenant,
        data=data.model_dump(mode="json"),
        metadata=event_metadata(command, traceparent).model_dump(mode="json"),
    )
