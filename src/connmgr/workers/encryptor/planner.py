"""Deciding a batch without writing: what each command does, as one write plan.

The planner walks the batch in order over in-memory connection states (loaded
once for the whole batch), so a create followed by an update of the same
connection in one batch sees the create. Each message ends as an outcome (for
a duplicate: the one already recorded), or as a retry when its handling raised
— on its last delivery that becomes a ``max_deliveries`` rejection instead.
Nothing here touches the database; ``flush`` writes the plan.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from connmgr.schemas.bus import parse_command_subject
from connmgr.schemas.commands import EncryptorCommand, parse_encryptor_command, read_header
from connmgr.schemas.events import event_type_of
from connmgr.schemas.outcomes import CommandOutcome, Reason, Rejection
from connmgr.storage.data_keys import WrappedDataKey
from connmgr.storage.event_log import PendingEvent, StoredEvent
from connmgr.storage.projection import ConnectionState, apply
from connmgr.workers.command_records import (
    MessageRef,
    check_subject,
    command_identity,
    event_metadata,
    rejection_records,
)
from connmgr.workers.encryptor.handlers import Accepted, EncryptorPorts, handle

log = structlog.get_logger("connmgr.encryptor")


@dataclass(frozen=True, slots=True)
class Inbound:
    """What the batch needs of one NATS message."""

    data: bytes
    subject: str
    msg_id: str | None
    stream_sequence: int
    num_delivered: int

    def identity(self, parsed: EncryptorCommand | Rejection) -> uuid.UUID:
        """The command id, or for an undecodable message a stable id of the message."""
        if not isinstance(parsed, Rejection):
            return parsed.command_id
        reference = MessageRef(self.msg_id, self.stream_sequence)
        return command_identity(read_header(self.data), reference)


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
        recorded: dict[str, CommandOutcome],
        states: dict[str, ConnectionState | None],
        now: datetime | None = None,
    ) -> None:
        self.plan = WritePlan()
        self.now = now or datetime.now(UTC)
        self._ports = ports
        self._max_deliver = max_deliver
        self._recorded = recorded
        self._states = states

    async def decide(self, item: Inbound, parsed: EncryptorCommand | Rejection) -> Handled:
        header = read_header(item.data)
        reply_to = header.reply_to if isinstance(parsed, Rejection) else parsed.reply_to
        identity = item.identity(parsed)
        if (previous := self._recorded.get(str(identity))) is not None:
            return Handled(previous, reply_to, duplicate=True)
        address = parse_command_subject(item.subject)
        tenant = address.tenant if address else ""
        if isinstance(parsed, Rejection):
            return Handled(self._reject(tenant, parsed, identity=identity, item=item), reply_to)
        if (mismatch := check_subject(address, parsed)) is not None:
            return Handled(self._reject(tenant, mismatch, command=parsed), reply_to)
        try:
            outcome = await self._decide(parsed)
        except Exception:
            log.exception("command_failed", stream_sequence=item.stream_sequence)
            if item.num_delivered < self._max_deliver:
                return Handled(None, None)
            return self.set_aside(item)
        return Handled(outcome, reply_to)

    def set_aside(self, item: Inbound) -> Handled:
        """Reject a message that failed on every delivery (the pool copies it to the DLQ)."""
        parsed = parse_encryptor_command(item.data)
        header = read_header(item.data)
        address = parse_command_subject(item.subject)
        rejection = Rejection(
            Reason.MAX_DELIVERIES, "the command failed on every delivery and was set aside"
        )
        command = None if isinstance(parsed, Rejection) else parsed
        outcome = self._reject(
            address.tenant if address else "",
            rejection,
            command=command,
            identity=item.identity(parsed),
            item=item,
        )
        return Handled(outcome, header.reply_to, dead_letter=True)

    async def _decide(self, command: EncryptorCommand) -> CommandOutcome:
        current = self._states.get(str(command.connection_id))
        decision = await handle(command, current, self._ports)
        if isinstance(decision, Rejection):
            return self._reject(command.actor.tenant, decision, command=command)
        return self._accept(command, current, decision)

    def _accept(
        self, command: EncryptorCommand, current: ConnectionState | None, decision: Accepted
    ) -> CommandOutcome:
        connection_id = str(command.connection_id)
        metadata = event_metadata(command).model_dump(mode="json")
        base = current.version if current else 0
        pending = [
            PendingEvent(connection_id, base + n, event_type_of(data), command.actor.tenant,
                         data.model_dump(mode="json"), metadata)
            for n, data in enumerate(decision.events, start=1)
        ]  # fmt: skip
        state = current
        for event in pending:
            state = apply(state, _draft(event, self.now))
        self._states[connection_id] = state
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
        tenant: str,
        rejection: Rejection,
        *,
        command: EncryptorCommand | None = None,
        identity: uuid.UUID | None = None,
        item: Inbound | None = None,
    ) -> CommandOutcome:
        header = read_header(item.data) if item is not None else None
        event, outcome = rejection_records(
            tenant, rejection, command=command, header=header, identity=identity
        )
        self.plan.events.append(event)
        return self._record(tenant, outcome)

    def touched_states(self) -> dict[str, ConnectionState]:
        """The states the plan leaves its connections in."""
        return {cid: state for cid in self.plan.touched if (state := self._states.get(cid))}

    def _record(self, tenant: str, outcome: CommandOutcome) -> CommandOutcome:
        self.plan.outcomes.append((tenant, outcome))
        self._recorded[str(outcome.command_id)] = outcome
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
