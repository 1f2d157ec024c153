"""Admitting a command message: the checks every pool makes before it looks up anything
by command id, shared by the encryptor, the tester and the prober.

In this order, the first that fails is the command's rejection (recorded like any
other, and nothing else is done):

1. a header the broker interprets — any ``Nats-*`` but ``Nats-Msg-Id``, so a
   schedule, rollup, TTL or a firing of a schedule (``bus.headers.command_header_refusal``)
   → ``control_headers``; the message names the header, never its value;
2. the body: size, NUL, JSON, schema → the parser's reason;
3. the subject: verb and connection id, and the actor's tenant
   → ``subject_mismatch`` / ``tenant_mismatch``;
4. ``reply_to`` outside the inboxes of the subject's tenant (``bus.inboxes.reply_allowed``)
   → ``invalid_reply_to``.

Only an admitted ``reply_to`` is ever answered: a refused one gets no reply at all.
The tenant of a message is its subject's (NATS permissions decide who may publish
there), so ``key`` — ``(tenant, command id)`` — finds only that tenant's records,
whatever command id a message claims: the key is computed only after these
checks, from the subject they vetted. A command recorded before is answered with
its recorded outcome, before its rejection (if any) is recorded again: a
redelivered refused command must not write a second record, and the record can
only be the sender's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from nats.aio.msg import Msg

from connmgr.schemas.bus.addresses import CommandAddress, parse_command_subject
from connmgr.schemas.bus.headers import MSG_ID_HEADER, command_header_refusal
from connmgr.schemas.bus.inboxes import reply_allowed
from connmgr.schemas.command_parsing import CommandHeader, read_header
from connmgr.schemas.outcomes import Reason, Rejection
from connmgr.storage.command_log import CommandKey
from connmgr.workers.command_records import AnyCommand, MessageRef, check_subject, command_identity

Command = TypeVar("Command", bound=AnyCommand)


@dataclass(frozen=True, slots=True)
class CommandMessage:
    """What the gate needs of one message from the command stream."""

    subject: str
    data: bytes
    headers: Mapping[str, str] | None
    msg_id: str | None
    stream_sequence: int


@dataclass(frozen=True, slots=True)
class Admission(Generic[Command]):
    """A message after the gate: a command to handle, or the rejection to record."""

    tenant: str
    identity: uuid.UUID
    header: CommandHeader
    reply_to: str | None
    """The subject to answer on; None when none was given or it is not allowed."""
    command: Command | None
    """The command, when its headers, body, subject and tenant passed (so its actor
    can be trusted in a record), even if its ``reply_to`` is then refused."""
    rejection: Rejection | None
    """Why the command is refused; None when it is to be handled."""

    @property
    def key(self) -> CommandKey:
        return (self.tenant, str(self.identity))


def command_message(message: Msg) -> CommandMessage:
    """What the gate reads of a JetStream message (its metadata must be present)."""
    return CommandMessage(
        subject=message.subject,
        data=message.data,
        headers=message.headers,
        msg_id=(message.headers or {}).get(MSG_ID_HEADER),
        stream_sequence=message.metadata.sequence.stream,
    )


def admit(
    message: CommandMessage, parse: Callable[[bytes], Command | Rejection]
) -> Admission[Command]:
    address = parse_command_subject(message.subject)
    header = read_header(message.data)
    parsed = parse(message.data)
    identity = (
        parsed.command_id
        if not isinstance(parsed, Rejection)
        else command_identity(header, MessageRef(message.msg_id, message.stream_sequence))
    )
    wanted_reply = header.reply_to if isinstance(parsed, Rejection) else parsed.reply_to
    reply_to = _allowed_reply(address, wanted_reply)
    rejection = _refusal(message, address, parsed, wanted_reply, reply_to)
    trusted = rejection is None or rejection.reason is Reason.INVALID_REPLY_TO
    return Admission(
        tenant=address.tenant if address else "",
        identity=identity,
        header=header,
        reply_to=reply_to,
        command=parsed if trusted and not isinstance(parsed, Rejection) else None,
        rejection=rejection,
    )


def _refusal(
    message: CommandMessage,
    address: CommandAddress | None,
    parsed: AnyCommand | Rejection,
    wanted_reply: str | None,
    reply_to: str | None,
) -> Rejection | None:
    if (header_name := command_header_refusal(dict(message.headers or {}))) is not None:
        return control_headers(header_name)
    if isinstance(parsed, Rejection):
        return parsed
    if (mismatch := check_subject(address, parsed)) is not None:
        return mismatch
    if wanted_reply is not None and reply_to is None:
        return Rejection(
            Reason.INVALID_REPLY_TO,
            "reply_to must be a subject under the tenant's own inbox prefix",
        )
    return None


def control_headers(header_name: str) -> Rejection:
    return Rejection(
        Reason.CONTROL_HEADERS,
        f"commands may not carry the broker header {header_name[:64]}; only Nats-Msg-Id is allowed",
    )


def _allowed_reply(address: CommandAddress | None, reply_to: str | None) -> str | None:
    if address is None or reply_to is None or not reply_allowed(address.tenant, reply_to):
        return None
    return reply_to
