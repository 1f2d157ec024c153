"""The log context of a message: what may be logged of it, and the one place it is bound.

``message_fields`` reads a JetStream message without trusting it. From the
subject (``schemas/bus/addresses.py`` parses it): ``tenant``, and ``verb``, ``event_type``
and ``connection_id`` where the subject has them. The tenant is the subject's
(NATS permissions decide who may publish there), never a body's claim; a
connection id is bound only as a canonical UUID. From the metadata:
``stream_sequence`` and ``delivery`` (the delivery count). From a command:
``command_id``, the id its outcome is recorded under (the gate's rule,
``command_records.command_identity``, on the same bytes: the body's id, else
``Nats-Msg-Id`` when it is a UUID, else one derived from the stream sequence;
always a canonical UUID), and ``correlation_id`` from the body's header. From
an event: ``event_id``, its ``Nats-Msg-Id`` when that is a UUID. Nothing else of
a body or a header is read, so no payload and no secret reaches the context.
The only free text, ``correlation_id``, is cut to ``MAX_TEXT`` characters and
dropped when it holds anything but ``[A-Za-z0-9._:/@+-]`` (no spaces, quotes or
line breaks: a value cannot pass for another field, in JSON or in the console
layout). The redaction processor still runs on every line, context included
(``runtime/logging.py``).

``bound`` is the one place fields are bound (``structlog.contextvars``): every
line logged inside carries them, exception lines included, and on leaving the
context is exactly as it was before: the fields, and anything a handler bound
inside, are gone, so nothing leaks from one message to the next. The consumer
adapters (``consumer``, ``concurrent_consumer``) open ``message_scope`` per
message and ``batch_scope`` per batch; a pool that handles a batch message by
message (the encryptor) opens ``bound`` per message with the same fields, and
the relay per event it publishes (``event_fields``).

Each pool logs one ``HANDLED`` line per message (``log_handled``), with its
outcome and ``duration_ms``: the message's own time from the moment the pool got
it to its outcome being final (docs/decisions.md, "Log context").
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Final

import structlog
from nats.aio.msg import Msg

from connmgr.schemas.bus.addresses import (
    parse_command_subject,
    parse_event_subject,
    parse_probe_subject,
)
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.command_parsing import read_header
from connmgr.storage.event_log import StoredEvent
from connmgr.workers.command_records import MessageRef, command_identity

HANDLED: Final = "message_handled"
"""The event name of the one line each pool logs per message."""
MAX_TEXT: Final = 128
_SAFE_TEXT: Final = re.compile(r"[A-Za-z0-9._:/@+-]+")
_UUID_MAX_CHARS: Final = 45  # "urn:uuid:" + 36

Fields = dict[str, str | int]


def safe_text(value: object, limit: int = MAX_TEXT) -> str | None:
    """``value`` cut to ``limit`` characters; None unless it is text of the safe set."""
    if not isinstance(value, str):
        return None
    cut = value[:limit]
    return cut if _SAFE_TEXT.fullmatch(cut) else None


def canonical_uuid(value: object) -> str | None:
    """The canonical form of a UUID written in ``value``; None when it is not one."""
    if not isinstance(value, str) or len(value) > _UUID_MAX_CHARS:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def message_fields(message: Msg) -> Fields:
    """What may be logged of ``message``, read without trusting it (module docstring)."""
    fields: Fields = {}
    sequence = _sequence(message)
    if sequence is not None:
        fields.update(stream_sequence=sequence, delivery=message.metadata.num_delivered)
    headers: Mapping[str, str] = message.headers or {}
    if (command := parse_command_subject(message.subject)) is not None:
        fields.update(tenant=command.tenant, verb=command.verb)
        fields.update(_command_ids(message.data, headers, sequence or 0))
        connection_id = command.connection_id
    elif (event := parse_event_subject(message.subject)) is not None:
        fields.update(tenant=event.tenant, event_type=event.event_type)
        _put(fields, "event_id", canonical_uuid(headers.get(MSG_ID_HEADER)))
        connection_id = event.connection_id
    elif (probe := parse_probe_subject(message.subject)) is not None:
        fields["tenant"] = probe.tenant
        connection_id = probe.connection_id
    else:
        return fields
    _put(fields, "connection_id", canonical_uuid(connection_id))
    return fields


def _command_ids(data: bytes, headers: Mapping[str, str], sequence: int) -> Fields:
    header = read_header(data)  # what the gate reads too: the same id, whatever the size
    ref = MessageRef(headers.get(MSG_ID_HEADER), sequence)
    fields: Fields = {"command_id": str(command_identity(header, ref))}
    _put(fields, "correlation_id", safe_text(header.correlation_id))
    return fields


def event_fields(event: StoredEvent) -> Fields:
    """What may be logged of an event the relay publishes (read from our own log; the
    correlation id is still a sender's text, cut and checked like a message's)."""
    fields: Fields = {"position": event.position, "event_type": event.type}
    _put(fields, "tenant", event.tenant or None)
    _put(fields, "event_id", canonical_uuid(event.event_id))
    _put(fields, "connection_id", canonical_uuid(event.stream_id))
    _put(fields, "command_id", canonical_uuid(event.metadata.get("command_id")))
    _put(fields, "correlation_id", safe_text(event.metadata.get("correlation_id")))
    return fields


def _put(fields: Fields, key: str, value: str | int | None) -> None:
    if value is not None:
        fields[key] = value


_STRUCTLOG_VARS: Final[dict[str, contextvars.ContextVar[Any]] | None] = getattr(
    structlog.contextvars, "_CONTEXT_VARS", None
)
"""structlog's own context variables, one per key ever bound (unset: ``Ellipsis``).
Saving and restoring just these, instead of ``get_contextvars``/``clear_contextvars``
(each a copy of the whole context, walked), is what ``bound`` costs per message: it
was the encryptor's largest cost after HPKE (``docs/decisions.md``, issue 15)."""


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Bind ``fields`` for every line logged inside; restore the context on leaving
    (keys bound inside by anyone, directly too, are gone again)."""
    if _STRUCTLOG_VARS is None:  # a structlog without its registry: the public, slower way
        saved = structlog.contextvars.get_contextvars()
        structlog.contextvars.bind_contextvars(**fields)
        try:
            yield
        finally:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**saved)
        return
    saved_vars = {name: var.get() for name, var in _STRUCTLOG_VARS.items()}
    structlog.contextvars.bind_contextvars(**fields)
    try:
        yield
    finally:
        for name, var in list(_STRUCTLOG_VARS.items()):
            if var.get() is not (saved := saved_vars.get(name, Ellipsis)):
                var.set(saved)


def message_scope(message: Msg, durable: str) -> contextlib.AbstractContextManager[None]:
    """The context of one message's handling, as a consumer adapter binds it."""
    return bound(durable=durable, **message_fields(message))


def batch_scope(messages: list[Msg], durable: str) -> contextlib.AbstractContextManager[None]:
    """The context of a batch's handling: its size and first and last stream sequence."""
    fields: Fields = {"durable": durable, "batch_size": len(messages)}
    if messages:
        _put(fields, "first_sequence", _sequence(messages[0]))
        _put(fields, "last_sequence", _sequence(messages[-1]))
    return bound(**fields)


def _sequence(message: Msg) -> int | None:
    try:
        return message.metadata.sequence.stream
    except Exception:  # a message without JetStream metadata
        return None


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading)."""
    return round((time.perf_counter() - started) * 1000, 3)


def log_handled(
    log: Any, started: float, outcome: str, *, warn: bool = False, **fields: Any
) -> None:
    """The one line per handled message; a warning (``warn``) for a retry or a discard."""
    emit = log.warning if warn else log.info
    emit(HANDLED, outcome=outcome, duration_ms=elapsed_ms(started), **fields)
