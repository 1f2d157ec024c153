"""One transaction per fetched batch: the encryptor's unit of work.

For each message, inside a savepoint: decode, dedupe on the command id, check
the subject, load the connection, run the handler, then append its events (or a
``CommandRejected``), fold them into the projection, store or destroy the data
key, and record the outcome. A message whose handling raises is rolled back to
its savepoint and retried later; the rest of the batch commits. Nothing is
acknowledged before the commit (the pool adapter acks afterwards).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.bus import parse_command_subject
from connmgr.schemas.commands import EncryptorCommand, parse_encryptor_command, read_header
from connmgr.schemas.events import event_type_of
from connmgr.schemas.outcomes import CommandOutcome, Reason, Rejection
from connmgr.storage.command_log import find_outcome, record_outcome
from connmgr.storage.data_keys import destroy_data_key, put_data_key
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent
from connmgr.storage.projection import ConnectionState, apply
from connmgr.storage.projection_store import load_connection, save_connection
from connmgr.workers.command_records import (
    MessageRef,
    append_rejection,
    check_subject,
    command_identity,
    event_metadata,
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


class EncryptorBatch:
    def __init__(self, engine: AsyncEngine, ports: EncryptorPorts, max_deliver: int) -> None:
        self._engine = engine
        self._ports = ports
        self._max_deliver = max_deliver

    async def process(self, items: list[Inbound]) -> list[Handled]:
        """Handle a batch in one transaction; raises when the transaction cannot commit."""
        async with write_transaction(self._engine) as connection:
            unit = _UnitOfWork(connection, await Appender.begin(connection), self._ports)
            results = [await self._process_one(unit, item) for item in items]
            await unit.appender.finish()
        return results

    async def _process_one(self, unit: _UnitOfWork, item: Inbound) -> Handled:
        mark = unit.appender.mark()
        try:
            async with unit.connection.begin_nested():
                return await unit.handle(item)
        except Exception:
            unit.appender.rewind(mark)
            unit.forget()
            log.exception("command_failed", stream_sequence=item.stream_sequence)
            if item.num_delivered < self._max_deliver:
                return Handled(outcome=None, reply_to=None)
        async with unit.connection.begin_nested():
            return await unit.reject_undeliverable(item)


class _UnitOfWork:
    def __init__(self, connection: AsyncConnection, appender: Appender, ports: EncryptorPorts):
        self.connection = connection
        self.appender = appender
        self._ports = ports
        self._states: dict[str, ConnectionState | None] = {}
        self._pending_states: dict[str, ConnectionState | None] = {}

    def forget(self) -> None:
        self._pending_states.clear()

    async def handle(self, item: Inbound) -> Handled:
        parsed = parse_encryptor_command(item.data)
        identity = _identity(item, parsed)
        header = read_header(item.data)
        reply_to = parsed.reply_to if not isinstance(parsed, Rejection) else header.reply_to
        previous = await find_outcome(self.connection, str(identity))
        if previous is not None:
            return Handled(outcome=previous, reply_to=reply_to, duplicate=True)
        address = parse_command_subject(item.subject)
        tenant = address.tenant if address else ""
        if isinstance(parsed, Rejection):
            outcome = await self._reject(identity, tenant, item, parsed)
            return Handled(outcome=outcome, reply_to=reply_to)
        if (mismatch := check_subject(address, parsed)) is not None:
            outcome = await self._reject(identity, tenant, item, mismatch)
            return Handled(outcome=outcome, reply_to=reply_to)
        outcome = await self._decide(parsed)
        self._states.update(self._pending_states)
        self._pending_states.clear()
        return Handled(outcome=outcome, reply_to=reply_to)

    async def reject_undeliverable(self, item: Inbound) -> Handled:
        parsed = parse_encryptor_command(item.data)
        identity = _identity(item, parsed)
        address = parse_command_subject(item.subject)
        rejection = Rejection(
            Reason.MAX_DELIVERIES, "the command failed on every delivery and was set aside"
        )
        outcome = await self._reject(identity, address.tenant if address else "", item, rejection)
        reply_to = read_header(item.data).reply_to
        return Handled(outcome=outcome, reply_to=reply_to, dead_letter=True)

    async def _state(self, connection_id: str) -> ConnectionState | None:
        if connection_id not in self._states:
            self._states[connection_id] = await load_connection(self.connection, connection_id)
        return self._states[connection_id]

    async def _decide(self, command: EncryptorCommand) -> CommandOutcome:
        connection_id = str(command.connection_id)
        current = await self._state(connection_id)
        decision = await handle(command, current, self._ports)
        if isinstance(decision, Rejection):
            return await self._reject(
                command.command_id, command.actor.tenant, None, decision, command
            )
        return await self._accept(command, current, decision)

    async def _accept(
        self, command: EncryptorCommand, current: ConnectionState | None, decision: Accepted
    ) -> CommandOutcome:
        connection_id = str(command.connection_id)
        metadata = event_metadata(command).model_dump(mode="json")
        base = current.version if current else 0
        pending = [
            PendingEvent(
                stream_id=connection_id,
                version=base + index,
                type=event_type_of(data),
                tenant=command.actor.tenant,
                data=data.model_dump(mode="json"),
                metadata=metadata,
            )
            for index, data in enumerate(decision.events, start=1)
        ]
        state = current
        for event in await self.appender.append(pending):
            state = apply(state, event)
        if state is not None and state is not current:
            await save_connection(self.connection, current, state)
            self._pending_states[connection_id] = state
        if decision.destroy_data_key:
            await destroy_data_key(self.connection, connection_id)
        if decision.new_data_key is not None:
            await put_data_key(self.connection, connection_id, decision.new_data_key)
        outcome = CommandOutcome(
            command_id=command.command_id,
            connection_id=command.connection_id,
            outcome="accepted",
            version=state.version if state else None,
            events=[event.type for event in pending],
        )
        await record_outcome(self.connection, command.actor.tenant, outcome)
        return outcome

    async def _reject(
        self,
        command_id: uuid.UUID,
        tenant: str,
        item: Inbound | None,
        rejection: Rejection,
        command: EncryptorCommand | None = None,
    ) -> CommandOutcome:
        header = read_header(item.data) if item is not None else None
        return await append_rejection(
            self.connection,
            self.appender,
            tenant,
            rejection,
            command=command,
            header=header,
            identity=command_id,
        )


def _identity(item: Inbound, parsed: EncryptorCommand | Rejection) -> uuid.UUID:
    """The command id, or for an undecodable message a stable id of the message itself."""
    if not isinstance(parsed, Rejection):
        return parsed.command_id
    return command_identity(read_header(item.data), MessageRef(item.msg_id, item.stream_sequence))
