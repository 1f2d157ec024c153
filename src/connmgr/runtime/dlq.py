"""``connmgr dlq ls`` and ``connmgr dlq replay SEQ``: the operator's view of dead letters.

``ls`` prints one line per entry of ``CONNMGR_DLQ`` (``no dead letters`` when
there is none): its sequence, time, kind
(``set-aside`` for a copy a pool recorded, or the server advisory's kind), the
original subject and stream sequence, and the command id. ``replay`` sends the
entry's command again under a NEW command id (the original id already has its
``max_deliveries`` outcome, and every command id has exactly one outcome); the
new command's ``correlation_id`` names the original command id.
"""

from __future__ import annotations

import argparse
import json
import uuid
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from connmgr.runtime.pools import connect_operator
from connmgr.schemas.bus.headers import (
    MSG_ID_HEADER,
    ORIGINAL_SEQUENCE_HEADER,
    ORIGINAL_SUBJECT_HEADER,
)
from connmgr.schemas.bus.streams import COMMAND_STREAM, DEAD_LETTER_STREAM
from connmgr.schemas.bus.subjects import DEAD_LETTER_PREFIX
from connmgr.schemas.settings import Settings

EXIT_OK = 0
EXIT_NOT_FOUND = 1


@dataclass(frozen=True, slots=True)
class DeadLetter:
    sequence: int
    kind: str
    subject: str | None
    original_sequence: int | None
    data: bytes | None

    @property
    def command_id(self) -> str | None:
        try:
            return str(json.loads(self.data or b"")["command_id"])
        except (ValueError, KeyError, TypeError):
            return None


async def _entry(nc: NatsClient, sequence: int) -> DeadLetter:
    stored = await nc.jetstream().get_msg(DEAD_LETTER_STREAM, sequence)
    if stored.subject and stored.subject.startswith(DEAD_LETTER_PREFIX + "."):
        headers = stored.headers or {}
        return DeadLetter(
            sequence,
            "set-aside",
            headers.get(ORIGINAL_SUBJECT_HEADER),
            int(headers.get(ORIGINAL_SEQUENCE_HEADER, "0")) or None,
            stored.data,
        )
    advisory: dict[str, Any] = json.loads(stored.data or b"{}")
    original = int(advisory.get("stream_seq", 0)) or None
    subject, data = await _original(nc, original)
    kind = str(advisory.get("type", "advisory")).rsplit(".", 1)[-1]
    return DeadLetter(sequence, kind, subject, original, data)


async def _original(nc: NatsClient, sequence: int | None) -> tuple[str | None, bytes | None]:
    if sequence is None:
        return None, None
    try:
        stored = await nc.jetstream().get_msg(COMMAND_STREAM, sequence)
    except NotFoundError:
        return None, None
    return stored.subject, stored.data


async def list_dead_letters(nc: NatsClient) -> list[DeadLetter]:
    info = await nc.jetstream().stream_info(DEAD_LETTER_STREAM)
    if info.state.messages == 0:
        return []  # an empty stream reports first_seq 0, which is no message to ask for
    entries = []
    for sequence in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            entries.append(await _entry(nc, sequence))
        except NotFoundError:
            continue
    return entries


async def replay(nc: NatsClient, sequence: int) -> str | None:
    """Send the dead letter's command again under a new id; returns that id."""
    entry = await _entry(nc, sequence)
    if entry.subject is None or entry.data is None:
        return None
    document = json.loads(entry.data)
    new_id = str(uuid.uuid4())
    document.update(command_id=new_id, correlation_id=entry.command_id)
    body = json.dumps(document).encode()
    await nc.jetstream().publish(entry.subject, body, headers={MSG_ID_HEADER: new_id})
    if entry.kind != "set-aside" and entry.original_sequence is not None:
        await nc.jetstream().delete_msg(COMMAND_STREAM, entry.original_sequence)
    return new_id


async def run_dlq_ls(settings: Settings, _args: argparse.Namespace) -> int:
    """One line per dead letter; ``no dead letters`` when there is none (the normal state),
    also before ``streams ensure`` has declared the stream."""
    nc = await connect_operator(settings)
    try:
        entries = await list_dead_letters(nc)
    except NotFoundError:
        entries = None
    finally:
        await nc.close()
    if not entries:
        declared = "" if entries is not None else f" ({DEAD_LETTER_STREAM} is not declared yet)"
        print(f"no dead letters{declared}")
        return EXIT_OK
    for entry in entries:
        print(
            f"{entry.sequence}\t{entry.kind}\t{entry.subject or '-'}\t"
            f"seq={entry.original_sequence or '-'}\tcommand={entry.command_id or '-'}"
        )
    return EXIT_OK


async def run_dlq_replay(settings: Settings, args: argparse.Namespace) -> int:
    nc = await connect_operator(settings)
    try:
        new_id = await replay(nc, args.sequence)
    finally:
        await nc.close()
    if new_id is None:
        print(f"dead letter {args.sequence}: the original command is no longer available")
        return EXIT_NOT_FOUND
    print(f"replayed as command {new_id}")
    return EXIT_OK
