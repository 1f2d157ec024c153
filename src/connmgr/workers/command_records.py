"""Recording a command's outcome in the log, shared by every pool that handles commands.

- ``command_identity``: the command id, or for an undecodable message a stable id
  derived from the message, so a redelivery of it is recognised too;
- ``check_subject``: the subject must name the command's tenant, verb and id;
- ``append_rejection``: a ``CommandRejected`` event in a stream of its own (never
  the connection's, so a rejected command cannot touch another tenant's
  history; named by tenant and command id, so two tenants' rejections of one
  command id never collide) plus the handled-command row; returns the outcome
  to reply with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connmgr.schemas.bus.addresses import CommandAddress
from connmgr.schemas.command_parsing import CommandHeader
from connmgr.schemas.commands import Actor
from connmgr.schemas.events import CommandRejected
from connmgr.schemas.outcomes import CommandOutcome, Reason, Rejection
from connmgr.schemas.stored_events import EventMetadata
from connmgr.storage.command_log import find_outcome, record_outcome
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent

REJECTION_NAMESPACE: Final = uuid.UUID("5c6f7a2e-1d3b-4c55-9a0e-2f1e8b7c9d10")


class AnyCommand(Protocol):
    @property
    def command_id(self) -> uuid.UUID: ...
    @property
    def connection_id(self) -> uuid.UUID: ...
    @property
    def type(self) -> str: ...
    @property
    def actor(self) -> Actor: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def reply_to(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What identifies a message when its body cannot be trusted."""

    msg_id: str | None
    stream_sequence: int


def command_identity(header: CommandHeader, message: MessageRef) -> uuid.UUID:
    if header.command_id is not None:
        return header.command_id
    try:
        return uuid.UUID(message.msg_id or "")
    except ValueError:
        return uuid.uuid5(REJECTION_NAMESPACE, f"stream-sequence:{message.stream_sequence}")


def check_subject(address: CommandAddress | None, command: AnyCommand) -> Rejection | None:
    if (
        address is None
        or address.verb != command.type
        or address.connection_id != str(command.connection_id)
    ):
        return Rejection(
            Reason.SUBJECT_MISMATCH, "the subject does not match the command's type and id"
        )
    if address.tenant != command.actor.tenant:
        return Rejection(Reason.TENANT_MISMATCH, "actor.tenant differs from the subject's tenant")
    return None


def event_metadata(command: AnyCommand, traceparent: str | None = None) -> EventMetadata:
    """The metadata of an event ``command`` causes; ``traceparent`` is the handling span's
    (``connmgr.tracing``), already valid."""
    return EventMetadata(
        command_id=command.command_id,
        actor_id=command.actor.id,
        tenant=command.actor.tenant,
        correlation_id=command.correlation_id,
        traceparent=traceparent,
    )


def own_stream(namespace: uuid.UUID, command_id: uuid.UUID) -> str:
    """A stream id of its own for an event about a command, never a connection's."""
    return str(uuid.uuid5(namespace, str(command_id)))


def command_scoped_id(namespace: uuid.UUID, tenant: str, command_id: uuid.UUID) -> str:
    """An id of its own for something about one tenant's command (a rejection's or a
    draft test's stream, a manual check's sample): command ids are unique per tenant
    only, so two tenants' records about the same id never collide."""
    return str(uuid.uuid5(namespace, f"{tenant}/{command_id}"))


def rejection_records(
    tenant: str,
    rejection: Rejection,
    *,
    command: AnyCommand | None = None,
    header: CommandHeader | None = None,
    identity: uuid.UUID | None = None,
    traceparent: str | None = None,
) -> tuple[PendingEvent, CommandOutcome]:
    """The ``CommandRejected`` event and the outcome that record a rejection (no I/O)."""
    command_id = command.command_id if command else identity
    assert command_id is not None, "a rejection needs the command or its identity"
    connection_id = command.connection_id if command else (header.connection_id if header else None)
    command_type = command.type if command else (header.type if header else None)
    data = CommandRejected(
        command_id=command_id,
        connection_id=connection_id,
        command_type=(command_type or "")[:32] or None,
        reason=rejection.reason.value,
        message=rejection.message,
        errors=list(rejection.errors),
    )
    metadata = (
        event_metadata(command, traceparent)
        if command
        else EventMetadata(
            command_id=command_id, actor_id=None, tenant=tenant, traceparent=traceparent
        )
    )
    event = PendingEvent(
        stream_id=command_scoped_id(REJECTION_NAMESPACE, tenant, command_id),
        version=1,
        type="CommandRejected",
        tenant=tenant,
        data=data.model_dump(mode="json"),
        metadata=metadata.model_dump(mode="json"),
    )
    outcome = CommandOutcome(
        command_id=command_id,
        connection_id=connection_id,
        outcome="rejected",
        version=None,
        events=["CommandRejected"],
        reason=rejection.reason.value,
        message=rejection.message,
        errors=list(rejection.errors),
    )
    return event, outcome


async def append_rejection(
    connection: AsyncConnection,
    appender: Appender,
    tenant: str,
    rejection: Rejection,
    *,
    command: AnyCommand | None = None,
    header: CommandHeader | None = None,
    identity: uuid.UUID | None = None,
    traceparent: str | None = None,
) -> CommandOutcome:
    """Record that a command changed nothing, and why; ``command`` when it was valid."""
    event, outcome = rejection_records(
        tenant,
        rejection,
        command=command,
        header=header,
        identity=identity,
        traceparent=traceparent,
    )
    await appender.append([event])
    await record_outcome(connection, tenant, outcome)
    return outcome


async def record_rejection(
    engine: AsyncEngine,
    tenant: str,
    rejection: Rejection,
    *,
    command: AnyCommand | None = None,
    header: CommandHeader | None = None,
    identity: uuid.UUID,
    traceparent: str | None = None,
) -> CommandOutcome:
    """``append_rejection`` in a transaction of its own, for pools that record rejections
    one at a time; a ``(tenant, identity)`` recorded before is answered from its record."""
    async with write_transaction(engine) as connection:
        if (previous := await find_outcome(connection, tenant, str(identity))) is not None:
            return previous
        appender = await Appender.begin(connection)
        outcome = await append_rejection(
            connection,
            appender,
            tenant,
            rejection,
            command=command,
            header=header,
            identity=identity,
            traceparent=traceparent,
        )
        await appender.finish()
    return outcome
