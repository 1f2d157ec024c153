"""Writing test results: one transaction per flush of the batch writer.

Each item is written inside its own savepoint: the command id is checked first
(a redelivered test that another replica already recorded is not recorded
twice), then either a rejection, a draft's ``ConnectionTested`` in a stream of
its own, or the connection's ``ConnectionTested`` at its next version, folded
into the projection (the last result per connection).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.commands import CommandHeader
from connmgr.schemas.events import ConnectionTested, ServerIdentityData, TestResult
from connmgr.schemas.outcomes import CommandOutcome, Reason, Rejection
from connmgr.schemas.probe_commands import ProbeCommand
from connmgr.storage.command_log import find_outcome, record_outcome
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent
from connmgr.storage.projection import apply
from connmgr.storage.projection_store import load_connection, save_connection
from connmgr.workers.checks.base import CheckResult
from connmgr.workers.command_records import append_rejection, event_metadata, own_stream

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


def test_result(result: CheckResult) -> TestResult:
    server = result.server
    return TestResult(
        outcome=result.outcome.value,
        detail=result.detail,
        latency_ms=result.latency_ms,
        phases=result.phases,
        server=ServerIdentityData(
            version=server.version,
            tls_subject=server.tls_subject,
            tls_issuer=server.tls_issuer,
            tls_not_after=server.tls_not_after,
        )
        if server
        else None,
        tested_at=datetime.now(UTC),
    )


async def record_tests(engine: AsyncEngine, records: list[TestRecord]) -> list[CommandOutcome]:
    async with write_transaction(engine) as connection:
        appender = await Appender.begin(connection)
        outcomes = []
        for record in records:
            mark = appender.mark()
            try:
                async with connection.begin_nested():
                    outcomes.append(await _record_one(connection, appender, record))
            except Exception:
                appender.rewind(mark)
                raise
        await appender.finish()
    return outcomes


async def _record_one(
    connection: AsyncConnection, appender: Appender, record: TestRecord
) -> CommandOutcome:
    previous = await find_outcome(connection, str(record.identity))
    if previous is not None:
        return previous
    command, result = record.command, record.result
    if record.rejection is not None or command is None or result is None:
        rejection = record.rejection or Rejection(Reason.INVALID_COMMAND, "nothing to record")
        return await append_rejection(
            connection,
            appender,
            record.tenant,
            rejection,
            command=command,
            header=record.header,
            identity=record.identity,
        )
    if record.draft is not None:
        return await _record_draft(connection, appender, command, record.draft, result)
    return await _record_stored(connection, appender, command, record, result)


async def _record_draft(
    connection: AsyncConnection,
    appender: Appender,
    command: ProbeCommand,
    draft: dict[str, object],
    result: CheckResult,
) -> CommandOutcome:
    tested = test_result(result)
    data = ConnectionTested(result=tested, draft=draft, connection_id=command.connection_id)
    await appender.append(
        [_pending(command, own_stream(DRAFT_NAMESPACE, command.command_id), 1, data)]
    )
    return await _accepted(connection, command, None, tested)


async def _record_stored(
    connection: AsyncConnection,
    appender: Appender,
    command: ProbeCommand,
    record: TestRecord,
    result: CheckResult,
) -> CommandOutcome:
    connection_id = str(command.connection_id)
    state = await load_connection(connection, connection_id)
    if state is None or state.deleted or state.tenant != command.actor.tenant:
        rejection = Rejection(Reason.NOT_FOUND, "the connection was deleted before the test ended")
        return await append_rejection(
            connection, appender, record.tenant, rejection, command=command
        )
    tested = test_result(result)
    data = ConnectionTested(
        result=tested, tested_version=state.version, secrets_version=record.secrets_version
    )
    (event,) = await appender.append([_pending(command, connection_id, state.version + 1, data)])
    after = apply(state, event)
    assert after is not None
    await save_connection(connection, state, after)
    return await _accepted(connection, command, after.version, tested)


def _pending(
    command: ProbeCommand, stream_id: str, version: int, data: ConnectionTested
) -> PendingEvent:
    return PendingEvent(
        stream_id=stream_id,
        version=version,
        type="ConnectionTested",
        tenant=command.actor.tenant,
        data=data.model_dump(mode="json"),
        metadata=event_metadata(command).model_dump(mode="json"),
    )


async def _accepted(
    connection: AsyncConnection, command: ProbeCommand, version: int | None, tested: TestResult
) -> CommandOutcome:
    outcome = CommandOutcome(
        command_id=command.command_id,
        connection_id=command.connection_id,
        outcome="accepted",
        version=version,
        events=["ConnectionTested"],
        result=tested.model_dump(mode="json"),
    )
    await record_outcome(connection, command.actor.tenant, outcome)
    return outcome
