"""Deciding a batch without writing: what each command does, as one write plan.

Each message first passes the gate every pool shares (``command_gate``: headers,
body, subject and tenant, ``reply_to``); only then is a recorded outcome looked
up, by ``(tenant, command id)``. The planner walks the batch in order over
in-memory connection states (loaded once for the whole batch), so a create
followed by an update of the same connection in one batch sees the create. Each
message ends as an outcome (for a duplicate: the one already recorded), or as a
retry when its handling raised — on its last delivery that becomes a
``max_deliveries`` rejection instead.
Nothing here touches the database; ``flush`` writes the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from connmgr.schemas.command_parsing import parse_encryptor_command
from connmgr.schemas.commands import EncryptorCommand
from connmgr.schemas.events import event_type_of
from connmgr.schemas.outcomes import CommandOutcome, Reason, Rejection
from connmgr.storage.command_log import CommandKey
from connmgr.storage.data_keys import WrappedDataKey
from connmgr.storage.event_log import PendingEvent, StoredEvent
from connmgr.storage.projection import ConnectionState, apply
from connmgr.workers.command_gate import Admission, CommandMessage, admit
from connmgr.workers.command_records import event_metadata, rejection_records
from connmgr.workers.encryptor.handlers import Accepted, EncryptorPorts, handle
from connmgr.workers.encryptor.names import TenantNames

log = structlog.get_logger("connmgr.encryptor")


@dataclass(frozen=True, slots=True)
class Inbound:
    """What the batch needs of one NATS message."""

    data: bytes
    subject: str
    msg_id: str | None
    stream_sequence: int
    num_delivered: int
    headers: Mapping[str, str] | None = None
    log_fields: Mapping[str, str | int] = field(default_factory=dict)
    """Its log context (``message_context.message_fields``), bound while it is handled."""
    traceparent: str | None = None
    """What its events' metadata carries: its handling span's, or the sender's valid one
    when nothing is recorded (``connmgr.tracing``); None without either."""

    def admission(self) -> Admission[EncryptorCommand]:
        """The message through the gate every pool shares (``command_gate``)."""
        message = CommandMessage(
            self.subject, self.data, self.headers, self.msg_id, self.stream_sequence
        )
        return admit(message, parse_encryptor_command)


@dataclass(frozen=True, slots=True)
class Handled:
    """The result for one message: an outcome to ack (and reply), or a retry."""

    outcome: CommandOutcome | None
    reply_to: str | None
    duplicate: bool = False
    dead_letter: bool = False

    @property
    def retry(self) -> bool:
        return self.outcome is None


@dataclass
class WritePlan:
    events: list[PendingEvent] = field(default_factory=list)
    outcomes: list[tuple[str, CommandOutcome]] = field(default_factory=list)
    data_keys: dict[str, WrappedDataKey | None] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)


class Planner:
    def __init__(
        self,
        ports: EncryptorPorts,
        max_deliver: int,
        recorded: dict[CommandKey, CommandOutcome],
        states: dict[str, ConnectionState | None],
        now: datetime | None = None,
        names: TenantNames | None = None,
    ) -> None:
        self.plan = WritePlan()
        self.now = now or datetime.now(UTC)
        self._ports = ports
        self._max_deliver = max_deliver
        self._recorded = recorded
        self._states = states
        self._names = names or TenantNames({})

    async def decide(self, item: Inbound, admission: Admission[EncryptorCommand]) -> Handled:
        """A recorded ``(tenant, command id)`` is answered from its record (the key is the
        gate-vetted subject tenant's, so the sender's own; a redelivered refused
        command is not recorded twice); else the gate's rejection; else the decision."""
        reply_to = admission.reply_to
        if (previous := self._recorded.get(admission.key)) is not None:
            return Handled(previous, reply_to, duplicate=True)
        if admission.rejection is not None:
            return Handled(self._reject(admission, admission.rejection, item.traceparent), reply_to)
        assert admission.command is not None, "an admitted message carries its command"
        try:
            outcome = await self._decide(admission.command, item.traceparent)
        except Exception:
            log.exception("command_failed", stream_sequence=item.stream_sequence)
            if item.num_delivered < self._max_deliver:
                return Handled(None, None)
            return self.set_aside(admission, item.traceparent)
        return Handled(outcome, reply_to)

    def set_aside(
        self, admission: Admission[EncryptorCommand], traceparent: str | None = None
    ) -> Handled:
        """Reject a message that failed on every delivery (the pool copies it to the DLQ)."""
        rejection = Rejection(
            Reason.MAX_DELIVERIES, "the command failed on every delivery and was set aside"
        )
        outcome = self._reject(admission, rejection, traceparent)
        return Handled(outcome, admission.reply_to, dead_letter=True)

    async def _decide(self, command: EncryptorCommand, traceparent: str | None) -> CommandOutcome:
        current = self._states.get(str(command.connection_id))
        decision = await handle(command, current, self._ports)
        if isinstance(decision, Accepted) and (clash := self._names.clash(command, current)):
            decision = clash
        if isinstance(decision, Rejection):
            event, outcome = rejection_records(
                command.actor.tenant, decision, command=command, traceparent=traceparent
            )
            self.plan.events.append(event)
            return self._record(command.actor.tenant, outcome)
        return self._accept(command, current, decision, traceparent)

    def _accept(
        self,
        command: EncryptorCommand,
        current: ConnectionState | None,
        decision: Accepted,
        traceparent: str | None,
    ) -> CommandOutcome:
        connection_id = str(command.connection_id)
        metadata = event_metadata(command, traceparent).model_dump(mode="json")
        base = current.version if current else 0
        pending = [
            PendingEvent(connection_id, base + n, event_type_of(data), command.actor.tenant,
                         data.model_dump(mode="json"), metadata)
            for n, data in enumerate(decision.events, start=1)
        ]  # fmt: skip
        state = current
        for event, data in zip(pending, decision.events, strict=True):
            state = apply(state, _draft(event, self.now), data)
        self._states[connection_id] = state
        self._names.moved(current, state)
        self.plan.events += pending
        if pending:
            self.plan.touched.add(connection_id)
        if decision.destroy_data_key:
            self.plan.data_keys[connection_id] = None
        if decision.new_data_key is not None:
            self.plan.data_keys[connection_id] = decision.new_data_key
        outcome = CommandOutcome(
            command_id=command.command_id,
            connection_id=command.connection_id,
            outcome="accepted",
            version=state.version if state else None,
            events=[event.type for event in pending],
        )
        return self._record(command.actor.tenant, outcome)

    def _reject(
        self,
        admission: Admission[EncryptorCommand],
        rejection: Rejection,
        traceparent: str | None,
    ) -> CommandOutcome:
        event, outcome = rejection_records(
            admission.tenant,
            rejection,
            command=admission.command,
            header=admission.header,
            identity=admission.identity,
            traceparent=traceparent,
        )
        self.plan.events.append(event)
        return self._record(admission.tenant, outcome)

    def touched_states(self) -> dict[str, ConnectionState]:
        """The states the plan leaves its connections in."""
        return {cid: state for cid in self.plan.touched if (state := self._states.get(cid))}

    def _record(self, tenant: str, outcome: CommandOutcome) -> CommandOutcome:
        self.plan.outcomes.append((tenant, outcome))
        self._recorded[(tenant, str(outcome.command_id))] = outcome
        return outcome


def _draft(event: PendingEvent, recorded_at: datetime) -> StoredEvent:
    """An event as the log will hold it: what the fold reads of it (stream, version,
    type, tenant, data, time) is exact, since the plan is appended at ``recorded_at``."""
    return StoredEvent(
        position=0,
        event_id="",
        stream_id=event.stream_id,
        version=event.version,
        type=event.type,
        tenant=event.tenant,
        data=event.data,
        metadata=event.metadata,
        recorded_at=recorded_at,
        hash="",
    )
