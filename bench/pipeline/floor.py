"""The raw-client floor of the write path, measured beside the encryptor (issue 15).

``Floor`` is a ``write_load.WritePath``: one child process (``floor_worker.py``,
nats-py + cryptography + asyncpg, nothing of connmgr) doing the work a create
command cannot skip. It has a stream of its own (``FLOOR_STREAM``, configured
like ``CONNMGR_CMD``, on subjects under ``FLOOR_PREFIX``) so it never competes
with the encryptor for a command, and writes connmgr's tables in a schema of its
own (``floor``, each table copied with ``LIKE … INCLUDING ALL``: the same columns,
keys and indexes), dropped and made again by ``Floor.start`` on every run. The
commands it takes are the encryptor's, sealed to the same seal key, on its subjects.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from nats.js import JetStreamContext
from sqlalchemy import MetaData, Table, text
from sqlalchemy.engine import make_url

from bench.harness import ChildProcess, Outgoing, Stack, all_running, peak_rss_mb
from bench.pipeline.floor_worker import FLOOR_SCHEMA, TABLES
from bench.pipeline.write_load import build_creates, cpu_seconds_of, end_to_end_rate
from connmgr.producers.client import Producer
from connmgr.schemas.bus.subjects import COMMAND_PREFIX
from connmgr.storage.tables import connections
from connmgr.workers.streams import command_stream_config

FLOOR_STREAM: Final = "BENCH_FLOOR"
FLOOR_PREFIX: Final = "floors.cmd"
FLOOR_DURABLE: Final = "floor"
WORKER_SCRIPT: Final = Path(__file__).resolve().parent / "floor_worker.py"
GENESIS_HASH: Final = "0" * 64
FLOOR_WARMUP: Final = 100

floor_connections: Final = connections.to_metadata(MetaData(), schema=FLOOR_SCHEMA)


def floor_subject(item: Outgoing) -> str:
    """The command's subject under ``FLOOR_PREFIX`` (tenant, verb and id kept)."""
    return FLOOR_PREFIX + item.subject.removeprefix(COMMAND_PREFIX)


@dataclass(frozen=True, slots=True)
class Floor:
    """The floor's process, its stream and its schema."""

    children: Sequence[ChildProcess]
    stream: str = FLOOR_STREAM
    projection: Table = floor_connections

    @classmethod
    async def start(cls, stack: Stack, js: JetStreamContext) -> Floor:
        """A fresh schema and stream, then the worker process (``floor.log``)."""
        await _fresh_schema(stack)
        config = command_stream_config()
        await js.add_stream(replace(config, name=FLOOR_STREAM, subjects=[f"{FLOOR_PREFIX}.>"]))
        dsn = make_url(stack.database_url).set(drivername="postgresql")
        env = {
            "FLOOR_NATS_URL": stack.nats_url,
            "FLOOR_DSN": dsn.render_as_string(hide_password=False),
            "FLOOR_KEYRING": stack.keyring_json,
            "FLOOR_STREAM": FLOOR_STREAM,
            "FLOOR_SUBJECTS": f"{FLOOR_PREFIX}.>",
            "FLOOR_DURABLE": FLOOR_DURABLE,
        }
        child = stack.start("floor", [sys.executable, str(WORKER_SCRIPT)], env)
        return cls([child])

    def addressed(self, items: Sequence[Outgoing]) -> list[Outgoing]:
        return [replace(item, subject=floor_subject(item)) for item in items]

    def check(self) -> None:
        all_running(*self.children)()

    async def ready(self, producer: Producer) -> None:
        """Nothing to wait for: its consumer takes what is published before it pulls."""

    def peak_rss_mb(self) -> float:
        return max(peak_rss_mb(child.pid) for child in self.children)


async def floor_rate(
    stack: Stack, js: JetStreamContext, producer: Producer, floor: Floor, count: int, label: str
) -> tuple[float, float]:
    """End-to-end commands/s of ``count`` fresh creates through the floor (after a
    warm-up of ``FLOOR_WARMUP``), and its CPU microseconds per command."""
    warmup = await build_creates(producer, FLOOR_WARMUP, f"{label}-warmup")
    items = await build_creates(producer, count, label)
    await end_to_end_rate(js, stack.engine, warmup, floor)
    cpu_before = cpu_seconds_of(floor)
    rate = await end_to_end_rate(js, stack.engine, items, floor)
    return rate, (cpu_seconds_of(floor) - cpu_before) / count * 1e6


async def _fresh_schema(stack: Stack) -> None:
    """Schema ``floor`` made again: connmgr's tables (as migrated) copied, the chain
    head at genesis."""
    async with stack.engine.begin() as connection:
        await connection.execute(text(f"DROP SCHEMA IF EXISTS {FLOOR_SCHEMA} CASCADE"))
        await connection.execute(text(f"CREATE SCHEMA {FLOOR_SCHEMA}"))
        for table in (*TABLES, "chain_head"):
            await connection.execute(
                text(f"CREATE TABLE {FLOOR_SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)")
            )
        await connection.execute(  # LIKE copies no foreign key: connmgr's tag rows have one
            text(
                f"ALTER TABLE {FLOOR_SCHEMA}.connection_tags ADD FOREIGN KEY (connection_id)"
                f" REFERENCES {FLOOR_SCHEMA}.connections (id) ON DELETE CASCADE"
            )
        )
        await connection.execute(
            text(f"INSERT INTO {FLOOR_SCHEMA}.chain_head (id, position, hash) VALUES (1, 0, :h)"),
            {"h": GENESIS_HASH},
        )
