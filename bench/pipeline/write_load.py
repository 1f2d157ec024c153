"""The write side under load: real create commands, published with JetStream.

- ``build_creates``: N create commands with real sealed secrets (HPKE to the
  encryptor's published seal key), built and sealed before any clock starts.
- ``raw_publish_rate``: the same bodies, headers and sizes to a throw-away
  stream on another subject: what a Python client can publish at all.
- ``end_to_end_rate``: the commands to ``CONNMGR_CMD``, timed from the first
  publish until all are rows of the projection, whichever ``WritePath`` makes them.

Publishing is ``harness.publish_all``: asynchronous, with a bounded window of
unacknowledged messages (``PUBLISH_WINDOW`` in flight at most).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Final, Protocol

from nats.js import JetStreamContext
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import (
    ChildProcess,
    Outgoing,
    count_rows,
    cpu_seconds,
    publish_all,
    wait_for_rows,
)
from connmgr.producers.building import validated
from connmgr.producers.client import Producer
from connmgr.schemas.bus.subjects import COMMAND_PREFIX, command_subject
from connmgr.schemas.commands import CreatePayload
from connmgr.schemas.connection_spec import ConnectionSpec
from connmgr.workers.streams import command_stream_config


class WritePath(Protocol):
    """An implementation of the write path under test (``encryptors.Encryptors``): its
    processes take the create commands published to ``CONNMGR_CMD`` and make each a
    projection row, answering ``reply_to`` once the row is committed."""

    @property
    def children(self) -> Sequence[ChildProcess]:
        """Its processes: their CPU time is what a command costs it."""
        ...

    def check(self) -> None:
        """``BenchError`` when one of its processes has exited."""
        ...

    async def ready(self, producer: Producer) -> None:
        """Until it takes commands (and they can be built: the seal key is published)."""
        ...

    @property
    def stream(self) -> str:
        """The stream it takes its commands from."""
        ...

    @property
    def projection(self) -> Table:
        """The table its projection rows are counted in."""
        ...

    def addressed(self, items: Sequence[Outgoing]) -> Sequence[Outgoing]:
        """The commands on the subjects of its stream."""
        ...


def cpu_seconds_of(under_test: WritePath) -> float:
    return sum(cpu_seconds(child.pid) for child in under_test.children)


RAW_STREAM: Final = "BENCH_RAW"
RAW_PREFIX: Final = "bench.raw"


def raw_subject(item: Outgoing) -> str:
    """The command's subject under ``RAW_PREFIX``: the same length, as both prefixes are."""
    return RAW_PREFIX + item.subject.removeprefix(COMMAND_PREFIX)


async def build_creates(
    producer: Producer, count: int, label: str, reply_prefix: str | None = None
) -> list[Outgoing]:
    """``count`` create commands of a postgres connection with a sealed password."""
    return [
        await _build_create(producer, f"{label}-{index}", reply_prefix) for index in range(count)
    ]


async def _build_create(producer: Producer, name: str, reply_prefix: str | None) -> Outgoing:
    connection_id, command_id = uuid.uuid4(), uuid.uuid4()
    channel = producer.channel
    spec = ConnectionSpec(
        name=name,
        kind="postgres",
        config={"host": "db.internal", "port": 5432, "database": "orders", "ssl": "require"},
        auth={"method": "basic", "username": "app"},
        tags=["bench"],
    )
    sealed = await channel.seal({"password": secrets.token_urlsafe(24)}, connection_id)
    payload = validated(CreatePayload, {**spec.payload_fields(), "secrets": sealed})
    reply_to = f"{reply_prefix}.{command_id.hex}" if reply_prefix else None
    command = channel.command(payload, connection_id, command_id=command_id, reply_to=reply_to)
    body = command.model_dump_json(exclude_none=True).encode()
    subject = command_subject(channel.tenant, "create", str(connection_id))
    return Outgoing(subject, str(connection_id), str(command_id), body)


async def raw_publish_rate(js: JetStreamContext, items: Sequence[Outgoing]) -> float:
    """Messages/s into a throw-away stream configured like the command stream."""
    config = replace(command_stream_config(), name=RAW_STREAM, subjects=[f"{RAW_PREFIX}.>"])
    raw = [replace(item, subject=raw_subject(item)) for item in items]
    await js.add_stream(config)
    try:
        started = time.perf_counter()
        await publish_all(js, raw, RAW_STREAM)
        return len(items) / (time.perf_counter() - started)
    finally:
        await js.delete_stream(RAW_STREAM)


async def end_to_end_rate(
    js: JetStreamContext, engine: AsyncEngine, items: Sequence[Outgoing], under_test: WritePath
) -> float:
    """Commands/s from the first publish until every command is a projection row of
    ``under_test`` (on its stream's subjects)."""
    table, addressed = under_test.projection, under_test.addressed(items)
    target = await count_rows(engine, table) + len(items)
    started = time.perf_counter()
    await publish_all(js, addressed, under_test.stream)
    timeout_s = 60 + len(items) / 50
    await wait_for_rows(engine, target, under_test.check, timeout_s, table)
    return len(items) / (time.perf_counter() - started)
