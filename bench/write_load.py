"""The write side under load: real create commands, published with JetStream.

- ``build_creates``: N create commands with real sealed secrets (HPKE to the
  encryptor's published seal key), built and sealed before any clock starts.
- ``raw_publish_rate``: the same bodies, headers and sizes to a throw-away
  stream on another subject: what a Python client can publish at all.
- ``end_to_end_rate``: the commands to ``CONNMGR_CMD``, timed from the first
  publish until all are rows of the projection.

Publishing is asynchronous with a bounded window of unacknowledged messages
(``publish_async``; ``PUBLISH_WINDOW`` in flight at most).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.producers.building import given, validated
from connmgr.producers.client import Producer
from connmgr.producers.errors import SealKeyUnavailable
from connmgr.schemas.bus import COMMAND_STREAM, MSG_ID_HEADER, command_subject
from connmgr.schemas.commands import CreatePayload
from connmgr.storage.tables import connections
from connmgr.workers.streams import command_stream_config
from harness import BenchError

PUBLISH_WINDOW: Final = 1024
RAW_STREAM: Final = "BENCH_RAW"
RAW_PREFIX: Final = "bench.raw"
POLL_S: Final = 0.05
Check = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One command ready to publish: its ids, subject and exact bytes."""

    connection_id: str
    command_id: str
    tenant: str
    body: bytes

    @property
    def subject(self) -> str:
        return command_subject(self.tenant, "create", self.connection_id)

    @property
    def raw_subject(self) -> str:
        # Same length as the real subject: ``connmgr.cmd`` and ``bench.raw`` match.
        return f"{RAW_PREFIX}.{self.tenant}.create.{self.connection_id}"


async def wait_for_seal_key(producer: Producer, check: Check, timeout_s: float = 30.0) -> None:
    """Until the encryptor has published its seal key (``check`` raises if it died)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await producer.seal({"password": "probe"}, uuid.uuid4())
            return
        except SealKeyUnavailable:
            check()
            if time.monotonic() > deadline:
                raise BenchError(f"no seal key within {timeout_s}s") from None
            await asyncio.sleep(0.1)


async def build_creates(
    producer: Producer, count: int, label: str, reply_prefix: str | None = None
) -> list[Outgoing]:
    """``count`` create commands of a postgres connection with a sealed password."""
    return [
        await _build_create(producer, f"{label}-{index}", reply_prefix) for index in range(count)
    ]


async def _build_create(producer: Producer, name: str, reply_prefix: str | None) -> Outgoing:
    connection_id, command_id = uuid.uuid4(), uuid.uuid4()
    sealed = await producer.seal({"password": secrets.token_urlsafe(24)}, connection_id)
    payload = validated(
        CreatePayload,
        given(
            name=name,
            kind="postgres",
            config={"host": "db.internal", "port": 5432, "database": "orders", "ssl": "require"},
            auth={"method": "basic", "username": "app"},
            secrets=sealed,
            tags=["bench"],
        ),
    )
    reply_to = f"{reply_prefix}.{command_id.hex}" if reply_prefix else None
    command = producer.command(payload, connection_id, command_id=command_id, reply_to=reply_to)
    body = command.model_dump_json(exclude_none=True).encode()
    return Outgoing(str(connection_id), str(command_id), producer.tenant, body)


async def publish_one(
    js: JetStreamContext, subject: str, item: Outgoing, stream: str
) -> asyncio.Future[PubAck]:
    """Start one publish; returns the future of its ack."""
    return await js.publish_async(
        subject, item.body, stream=stream, headers={MSG_ID_HEADER: item.command_id}
    )


async def publish_all(js: JetStreamContext, items: Sequence[Outgoing], *, raw: bool) -> None:
    """Publish every item as fast as the window allows; return once all are acknowledged."""
    stream = RAW_STREAM if raw else COMMAND_STREAM
    acks = [
        await publish_one(js, item.raw_subject if raw else item.subject, item, stream)
        for item in items
    ]
    await asyncio.gather(*acks)


async def raw_publish_rate(js: JetStreamContext, items: Sequence[Outgoing]) -> float:
    """Messages/s into a throw-away stream configured like the command stream."""
    config = replace(command_stream_config(), name=RAW_STREAM, subjects=[f"{RAW_PREFIX}.>"])
    await js.add_stream(config)
    try:
        started = time.perf_counter()
        await publish_all(js, items, raw=True)
        return len(items) / (time.perf_counter() - started)
    finally:
        await js.delete_stream(RAW_STREAM)


async def count_connections(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(connections))).scalar_one()
        )


async def wait_for_rows(engine: AsyncEngine, target: int, check: Check, timeout_s: float) -> None:
    """Poll the projection until it holds ``target`` rows; ``BenchError`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while (seen := await count_connections(engine)) < target:
        check()
        if time.monotonic() > deadline:
            raise BenchError(f"{seen} of {target} connections visible after {timeout_s:.0f}s")
        await asyncio.sleep(POLL_S)


async def end_to_end_rate(
    js: JetStreamContext, engine: AsyncEngine, items: Sequence[Outgoing], check: Check
) -> float:
    """Commands/s from the first publish until every command is a projection row."""
    target = await count_connections(engine) + len(items)
    started = time.perf_counter()
    await publish_all(js, items, raw=False)
    await wait_for_rows(engine, target, check, timeout_s=60 + len(items) / 50)
    return len(items) / (time.perf_counter() - started)
