"""The tester pool's process: bounded concurrent tests, results written in batches.

Per message: the gate every pool shares (``command_gate``: headers, body,
subject and tenant, ``reply_to``) — a refused message is recorded as a rejection
and answered like any other; then a ``(tenant, command id)`` already recorded is
answered from the record without touching the target again (a redelivered or re-published
test changes nothing); otherwise the target is prepared (secrets decrypted in
memory), checked under the runner's bounds, and the result is written by the batch
writer before the message is acked and the outcome published to ``reply_to``.

A result that could not be written (the database is away) is held in memory
(``held_results``, bounded in age and number), and written when its message
comes back to this replica, instead of checking the target again: an outage does
not turn into repeated logins on the user's systems. A message redelivered to
another replica is checked there once more; either way it is recorded once.

Every message ends in one ``message_handled`` line (``message_context``; the ids
are the adapter's log context): its outcome, reason and result, or ``retry``.

Each test is a ``tester test`` span, child of the command's valid ``traceparent``
(else a root); the check and its phases nest under it and the event it records
keeps its ``traceparent`` in the metadata (``connmgr.tracing``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, NamedTuple

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.consumers import TESTER_CONSUMER
from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.schemas.outcomes import CommandOutcome, Reason, Rejection
from connmgr.schemas.probe_commands import ProbeCommand, TestConnection, parse_probe_command
from connmgr.storage.command_log import CommandKey, find_outcomes
from connmgr.tracing.spans import Attributes, hop
from connmgr.tracing.traceparent import traceparent_in
from connmgr.workers.batch_writer import BatchWriter
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.checks.targets import Prepared, prepare_draft, prepare_stored
from connmgr.workers.command_answers import answer_command
from connmgr.workers.command_gate import Admission, admit, command_message
from connmgr.workers.concurrent_consumer import ConcurrentConsumer
from connmgr.workers.durables import ensure_consumer
from connmgr.workers.keyring import Keyring
from connmgr.workers.message_context import log_handled
from connmgr.workers.metrics import record_check
from connmgr.workers.streams import ensure_streams
from connmgr.workers.tester.held_results import HeldResults
from connmgr.workers.tester.recorder import TestRecord, record_tests

log = structlog.get_logger("connmgr.tester")
POOL = "tester"
_ATTRIBUTES: Final[Attributes] = {"connmgr.pool": "tester"}


class Answered(NamedTuple):
    """A test command recorded before: answered from its record, the target untouched."""

    outcome: CommandOutcome


class TesterPool:
    __test__ = False  # not a pytest class

    def __init__(
        self,
        nc: NatsClient,
        engine: AsyncEngine,
        keyring: Keyring,
        runner: CheckRunner,
        *,
        allow_plaintext: bool,
        max_in_flight: int,
    ) -> None:
        self._nc = nc
        self._engine = engine
        self._keyring = keyring
        self._runner = runner
        self._allow_plaintext = allow_plaintext
        self._max_in_flight = max_in_flight
        self._writer: BatchWriter[TestRecord, CommandOutcome | None] = BatchWriter(
            lambda records: record_tests(engine, records)
        )
        self._held = HeldResults()

    async def start(self) -> None:
        js = self._nc.jetstream()
        await ensure_streams(js)
        await ensure_consumer(js, COMMAND_STREAM, TESTER_CONSUMER)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = ConcurrentConsumer(
            self._nc.jetstream(), COMMAND_STREAM, TESTER_CONSUMER, self.handle, self._max_in_flight
        )
        try:
            await consumer.run(stop)
        finally:
            await self._writer.close()

    async def handle(self, message: Msg) -> bool:
        """Every message ends in one outcome, answered on its ``reply_to`` when that is
        allowed: a rejection of a message that could not be parsed included."""
        started = time.perf_counter()
        admission: Admission[ProbeCommand] = admit(command_message(message), parse_probe_command)
        parent = traceparent_in(message.headers)
        with hop("tester test", parent, SpanKind.CONSUMER, _ATTRIBUTES) as traceparent:
            found = await self._test(admission, traceparent)  # the check's spans nest here
        outcome = found.outcome if isinstance(found, Answered) else await self._submit(found)
        if outcome is None:
            log_handled(log, started, "retry", warn=True)
            return False
        await answer_command(
            self._nc,
            admission.reply_to,
            outcome,
            log=log,
            pool=POOL,
            subject=message.subject,
            started=started,
        )
        return True

    async def _submit(self, record: TestRecord) -> CommandOutcome | None:
        """Write the record; one that could not be written is held for its retry."""
        try:
            outcome = await self._writer.submit(record)
        except Exception as error:
            log.warning(
                "test_unrecorded", command_id=str(record.identity), error=type(error).__name__
            )
            outcome = None
        if outcome is None:
            self._held.hold(record)
        else:
            self._held.release(record.key)
        return outcome

    async def _test(
        self, admission: Admission[ProbeCommand], traceparent: str | None
    ) -> TestRecord | Answered:
        """The record to write (its events keep ``traceparent``); the gate's checks come
        before any lookup by id."""
        tenant, identity, command = admission.tenant, admission.identity, admission.command
        if admission.rejection is not None or not isinstance(command, TestConnection):
            rejection = admission.rejection or Rejection(
                Reason.UNKNOWN_COMMAND, "the command type is not handled here"
            )
            return TestRecord(
                identity,
                tenant,
                command=command,
                header=admission.header,
                rejection=rejection,
                traceparent=traceparent,
            )
        if (held := self._held.get(admission.key)) is not None:
            return held
        if (recorded := await self._recorded(admission.key)) is not None:
            return Answered(recorded)
        prepared = await self._prepare(command)
        if isinstance(prepared, Rejection):
            return TestRecord(
                identity, tenant, command=command, rejection=prepared, traceparent=traceparent
            )
        result = prepared.unusable or await self._runner.run(prepared.target)
        record_check(POOL, prepared.target.kind, result.outcome, result.latency_ms)
        return TestRecord(
            identity,
            tenant,
            command=command,
            result=result,
            secrets_version=prepared.secrets_version,
            draft=prepared.draft,
            traceparent=traceparent,
        )

    async def _recorded(self, key: CommandKey) -> CommandOutcome | None:
        async with self._engine.connect() as connection:
            return (await find_outcomes(connection, [key])).get(key)

    async def _prepare(self, command: TestConnection) -> Prepared | Rejection:
        """The target; a test another replica is running at once is recorded once."""
        connection_id = str(command.connection_id)
        if command.draft is not None:
            return prepare_draft(
                command.draft, connection_id, self._keyring, allow_plaintext=self._allow_plaintext
            )
        async with self._engine.connect() as connection:
            return await prepare_stored(
                connection, command.actor.tenant, connection_id, self._keyring
            )
