"""Commands built before any clock starts, published with a bounded window.

``Outgoing`` is one command ready to publish (subject, ids, exact bytes);
``publish_all`` sends them with JetStream ``publish_async``, at most
``PUBLISH_WINDOW`` unacknowledged, ``Nats-Msg-Id`` = the command id. The waits
here are for the workers that take them: a pool pulling, the encryptor's seal key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NotFoundError

from bench.harness.processes import Check
from bench.harness.waiting import wait_for
from connmgr.producers.client import Producer
from connmgr.producers.errors import SealKeyUnavailable
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.schemas.bus.subjects import command_subject

TENANT: Final = "bench"
PUBLISH_WINDOW: Final = 1024


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One command ready to publish: its subject, ids and exact bytes."""

    subject: str
    connection_id: str
    command_id: str
    body: bytes


def command(
    verb: str, connection_id: str, payload: Mapping[str, Any], tenant: str = TENANT
) -> Outgoing:
    """A command document as a producer writes it, for commands that need no sealing."""
    command_id = str(uuid.uuid4())
    document = {
        "command_id": command_id,
        "type": verb,
        "connection_id": connection_id,
        "issued_at": datetime.now(UTC).isoformat(),
        "actor": {"id": "bench", "tenant": tenant},
        "payload": dict(payload),
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    return Outgoing(command_subject(tenant, verb, connection_id), connection_id, command_id, body)


async def publish_one(
    js: JetStreamContext, item: Outgoing, stream: str = COMMAND_STREAM
) -> asyncio.Future[PubAck]:
    """Start one publish; returns the future of its ack."""
    headers = {MSG_ID_HEADER: item.command_id}
    return await js.publish_async(item.subject, item.body, stream=stream, headers=headers)


async def publish_all(
    js: JetStreamContext, items: Sequence[Outgoing], stream: str = COMMAND_STREAM
) -> None:
    """Publish every item as fast as the window allows; return once all are acknowledged
    (stored by the broker). ``js`` sets the window (``publish_async_max_pending``)."""
    acks = [await publish_one(js, item, stream) for item in items]
    await asyncio.gather(*acks)


async def wait_for_consumer(
    js: JetStreamContext, durable: str, check: Check, timeout_s: float
) -> None:
    """Until a pool's durable consumer on ``CONNMGR_CMD`` exists and has a pull request
    waiting: the pool has created the streams and its worker takes commands."""

    async def pulling() -> str | None:
        with contextlib.suppress(NotFoundError):
            info = await js.consumer_info(COMMAND_STREAM, durable)
            if (info.num_waiting or 0) >= 1:
                return None
        return f"no worker pulling from consumer {durable!r}"

    await wait_for(pulling, check, timeout_s, poll_s=0.1)


async def wait_for_seal_key(producer: Producer, check: Check, timeout_s: float = 30.0) -> None:
    """Until the encryptor has published its seal key (``check`` raises if it died)."""

    async def sealable() -> str | None:
        try:
            await producer.channel.seal({"password": "probe"}, uuid.uuid4())
        except SealKeyUnavailable:
            return "no seal key"
        return None

    await wait_for(sealable, check, timeout_s, poll_s=0.1)
