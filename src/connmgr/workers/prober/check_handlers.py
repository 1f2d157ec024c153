"""The prober's check handlers: a check command, a schedule's firing, one check.

Two kinds of check message. A check *command* (``connmgr.cmd.<tenant>.check.<id>``,
sent by a producer; ``handle``) passes the gate every pool shares (``command_gate``: headers —
a firing of a schedule on a command subject is refused —, body, subject and
tenant, ``reply_to``) and ends in exactly one outcome, recorded under
``(tenant, command id)`` and answered on an allowed ``reply_to``: the check's
result, or a rejection (``not_found`` for a connection that is missing, deleted
or another tenant's, the same either way). A *firing* of a check schedule
(``connmgr.probe.<tenant>.<id>``, from the schedule stream only the prober
writes; ``handle_firing``) is told apart by its stream sequence, so a redelivered firing counts
once, and has no outcome. Either way: find the connection through the batched,
cached target reads of ``targets`` (a deleted one has its schedule purged, once the
projection confirms it, and is never checked again), skip scheduled checks of a
suspended connection, run the kind's check under the runner's bounds, and hand the
result to the batch writer (samples, state machine, status events in one
transaction); then ack.
Each command and each firing ends in one ``message_handled`` line
(``message_context``; the ids are the adapter's log context).

Each is a ``prober check`` span: a firing's is a root (a schedule is nobody's
request, so no producer's trace continues into alerts), a command's the child
of its valid ``traceparent``. The check and its phases are child spans
(``checks.check_spans``) and the status events it causes keep the span's
``traceparent`` in their metadata (``connmgr.tracing``).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Final, Literal

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.addresses import parse_probe_subject
from connmgr.schemas.outcomes import CommandOutcome, Reason, Rejection
from connmgr.schemas.probe_commands import CheckConnection, ProbeCommand, parse_probe_command
from connmgr.storage.command_log import find_outcome
from connmgr.tracing.spans import Attributes, hop
from connmgr.tracing.traceparent import traceparent_in
from connmgr.workers.batch_writer import BatchWriter
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.command_answers import answer_command
from connmgr.workers.command_gate import Admission, admit, command_message
from connmgr.workers.command_records import command_scoped_id, record_rejection
from connmgr.workers.message_context import log_handled
from connmgr.workers.metrics import record_check, record_schedule_lag
from connmgr.workers.prober.recorder import CheckRecord, Recorded
from connmgr.workers.prober.schedules import ScheduleKeeper
from connmgr.workers.prober.targets import CheckTargets

log = structlog.get_logger("connmgr.prober")
POOL: Final = "prober"
_SCHEDULED: Final[Attributes] = {"connmgr.pool": "prober", "connmgr.check.scheduled": True}
_MANUAL: Final[Attributes] = {"connmgr.pool": "prober", "connmgr.check.scheduled": False}
MANUAL_CHECK_NAMESPACE: Final = uuid.UUID("6f3e1c2a-8b4d-4e7f-9a15-3c2d1e0f4b6a")
"""A manual check's sample id: per tenant and command id (``command_scoped_id``)."""
Skipped = Literal["no_connection", "suspended"]
"""Why a check found nothing to record."""


class CheckHandlers:
    """What ``service.ProberPool`` handles; it sets these up and runs the consumers."""

    _nc: NatsClient
    _engine: AsyncEngine
    _runner: CheckRunner
    _writer: BatchWriter[CheckRecord, Recorded]
    schedules: ScheduleKeeper
    targets: CheckTargets

    async def handle(self, message: Msg) -> bool:
        """A check command from ``CONNMGR_CMD``: exactly one outcome, recorded, answered
        when ``reply_to`` is allowed; the gate's checks (``command_gate``) come before
        any lookup by id. A firing of a schedule on a command subject is refused there."""
        started = time.perf_counter()
        admission: Admission[ProbeCommand] = admit(command_message(message), parse_probe_command)
        parent = traceparent_in(message.headers)
        with hop("prober check", parent, SpanKind.CONSUMER, _MANUAL) as traceparent:
            outcome = await self._outcome(admission, traceparent)
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

    async def handle_firing(self, message: Msg) -> bool:
        """A scheduled check from ``CONNMGR_SCHED``: counted once per stream sequence,
        skipped while probing is suspended, answered to no one."""
        started = time.perf_counter()
        parsed = parse_probe_command(message.data)
        address = parse_probe_subject(message.subject)
        if (
            not isinstance(parsed, CheckConnection)
            or address is None
            or (address.tenant, address.connection_id)
            != (parsed.actor.tenant, str(parsed.connection_id))
        ):
            reason = "not a check of its subject's connection"
            log_handled(log, started, "discarded", warn=True, reason=reason)
            return True
        check_id = f"scheduled:{message.metadata.sequence.stream}"
        with hop("prober check", None, SpanKind.CONSUMER, _SCHEDULED) as traceparent:
            record = await self._check(parsed, check_id, traceparent, scheduled=True)
            if not isinstance(record, CheckRecord):
                log_handled(log, started, "skipped", reason=record)
                return True
            record_schedule_lag(
                message.metadata.timestamp.timestamp(), record.checked_at.timestamp()
            )
            counted = (await self._writer.submit(record)).counted
        log_handled(log, started, "checked", result=record.result.outcome, counted=counted)
        return True

    async def _outcome(
        self, admission: Admission[ProbeCommand], traceparent: str | None
    ) -> CommandOutcome:
        command = admission.command
        if admission.rejection is not None or not isinstance(command, CheckConnection):
            rejection = admission.rejection or Rejection(
                Reason.UNKNOWN_COMMAND, "the command type is not handled here"
            )
            return await self._reject(admission, rejection, traceparent)
        async with self._engine.connect() as connection:
            recorded = await find_outcome(connection, *admission.key)
        if recorded is not None:
            return recorded
        check_id = command_scoped_id(MANUAL_CHECK_NAMESPACE, admission.tenant, admission.identity)
        record = await self._check(command, check_id, traceparent, scheduled=False)
        if not isinstance(record, CheckRecord):
            missing = Rejection(Reason.NOT_FOUND, "no such connection")
            return await self._reject(admission, missing, traceparent)
        recorded = (await self._writer.submit(record)).outcome
        assert recorded is not None, "a manual check is always answered"
        return recorded

    async def _reject(
        self, admission: Admission[ProbeCommand], rejection: Rejection, traceparent: str | None
    ) -> CommandOutcome:
        return await record_rejection(
            self._engine,
            admission.tenant,
            rejection,
            command=admission.command,
            header=admission.header,
            identity=admission.identity,
            traceparent=traceparent,
        )

    async def _check(
        self, command: CheckConnection, check_id: str, traceparent: str | None, scheduled: bool
    ) -> CheckRecord | Skipped:
        """Why there is nothing to record: no such connection of the tenant (its
        schedule is purged), or a scheduled check of a suspended one."""
        tenant, connection_id = command.actor.tenant, str(command.connection_id)
        lookup = await self.targets.get(tenant, connection_id)
        prepared = lookup.prepared
        if prepared is None:
            await self.schedules.remove_unwanted(tenant, connection_id)
            return "no_connection"
        if scheduled and lookup.suspended:
            return "suspended"
        result = prepared.unusable or await self._runner.run(prepared.target)
        record_check(POOL, prepared.target.kind, result.outcome, result.latency_ms)
        return CheckRecord(
            check_id=check_id,
            connection_id=connection_id,
            tenant=tenant,
            checked_at=datetime.now(UTC),
            result=result,
            command=None if scheduled else command,
            traceparent=traceparent,
        )
