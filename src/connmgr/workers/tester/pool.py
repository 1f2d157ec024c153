"""The tester pool's process: bounded concurrent tests, results written in batches.

Per message: decode and validate; a command id already recorded is answered
from the record (a redelivery changes nothing); otherwise the target is
prepared (secrets decrypted in memory), checked under the runner's bounds, and
the result is written by the batch writer before the message is acked and the
outcome published to ``reply_to``.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus import (
    COMMAND_STREAM,
    MSG_ID_HEADER,
    TESTER_CONSUMER,
    parse_command_subject,
)
from connmgr.schemas.commands import read_header
from connmgr.schemas.outcomes import CommandOutcome, Rejection
from connmgr.schemas.probe_commands import TestConnection, parse_probe_command
from connmgr.workers.batch_writer import BatchWriter
from connmgr.workers.command_records import MessageRef, check_subject, command_identity
from connmgr.workers.concurrent_consumer import ConcurrentConsumer
from connmgr.workers.keyring import Keyring
from connmgr.workers.streams import ensure_consumer, ensure_streams
from connmgr.workers.tester.recorder import TestRecord, record_tests
from connmgr.workers.tester.runner import CheckRunner
from connmgr.workers.tester.targets import Prepared, prepare_draft, prepare_stored

log = structlog.get_logger("connmgr.tester")


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
        started = time.perf_counter()
        record = await self._test(message)
        outcome = await self._writer.submit(record)
        if outcome is None:
            return False
        if record.command is not None and record.command.reply_to:
            await self._nc.publish(record.command.reply_to, outcome.model_dump_json().encode())
        _log_handled(outcome, started)
        return True

    async def _test(self, message: Msg) -> TestRecord:
        header = read_header(message.data)
        address = parse_command_subject(message.subject)
        tenant = address.tenant if address else ""
        reference = MessageRef(
            (message.headers or {}).get(MSG_ID_HEADER), message.metadata.sequence.stream
        )
        parsed = parse_probe_command(message.data)
        if isinstance(parsed, Rejection) or not isinstance(parsed, TestConnection):
            rejection = parsed if isinstance(parsed, Rejection) else None
            identity = command_identity(header, reference)
            return TestRecord(identity, tenant, header=header, rejection=rejection)
        if (mismatch := check_subject(address, parsed)) is not None:
            return TestRecord(parsed.command_id, tenant, command=parsed, rejection=mismatch)
        prepared = await self._prepare(parsed)
        if isinstance(prepared, Rejection):
            return TestRecord(parsed.command_id, tenant, command=parsed, rejection=prepared)
        result = prepared.unusable or await self._runner.run(prepared.target)
        return TestRecord(
            parsed.command_id,
            tenant,
            command=parsed,
            result=result,
            secrets_version=prepared.secrets_version,
            draft=prepared.draft,
        )

    async def _prepare(self, command: TestConnection) -> Prepared | Rejection:
        """The target; a redelivered test runs again but is recorded once (``recorder``)."""
        connection_id = str(command.connection_id)
        if command.draft is not None:
            return prepare_draft(
                command.draft, connection_id, self._keyring, allow_plaintext=self._allow_plaintext
            )
        async with self._engine.connect() as connection:
            return await prepare_stored(
                connection, command.actor.tenant, connection_id, self._keyring
            )


def _log_handled(outcome: CommandOutcome, started: float) -> None:
    log.info(
        "command_handled",
        command_id=str(outcome.command_id),
        connection_id=str(outcome.connection_id) if outcome.connection_id else None,
        outcome=outcome.outcome,
        reason=outcome.reason,
        result=(outcome.result or {}).get("outcome"),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
