"""The read side under load: ``GET /api/connections/{id}`` against a bare aiohttp handler.

Connections are stored straight into the projection: each row is the fold of a
``ConnectionCreated`` event (``storage.projection.apply``), bulk inserted into
``connections`` and ``connection_tags``; no log, no data keys (the API reads
neither). The load comes from another process: ``wrk`` with
``random_ids.lua`` where installed, else ``http_load.py`` (aiohttp). Both pick a
random stored id per request and send the bearer token; the bare app answers
the same paths with a fixed small JSON document.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import aiohttp
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import BenchError, ChildProcess
from connmgr.schemas.events import ConnectionCreated, EncryptedSecrets
from connmgr.schemas.health import HealthCheckSettings
from connmgr.schemas.kinds import Kind
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import GENESIS_HASH, StoredEvent
from connmgr.storage.projection import ConnectionState, apply
from connmgr.storage.tables import connection_tags, connections

WRK_SCRIPT: Final = Path(__file__).with_name("random_ids.lua")
PYTHON_LOADER: Final = Path(__file__).with_name("http_load.py")
MAX_ERROR_SHARE: Final = 0.01
SEED_CHUNK: Final = 1000
LOADERS: Final = ("auto", "wrk", "python")
Loader = Literal["auto", "wrk", "python"]


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """``concurrency`` connections for ``duration_s`` against ``base_url``."""

    base_url: str
    ids_file: Path
    token: str
    duration_s: float
    concurrency: int
    loader: Loader = "auto"


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    failed: int
    duration_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s


def _created_state(tenant: str, index: int, now: datetime) -> ConnectionState:
    secrets = EncryptedSecrets(
        secrets_version=1,
        field_names=["password"],
        nonce=base64.b64encode(os.urandom(12)).decode(),
        ciphertext=base64.b64encode(os.urandom(48)).decode(),
    )
    data = ConnectionCreated(
        name=f"bench-read-{index}",
        kind=Kind.POSTGRES,
        template=None,
        config={"host": "db.internal", "port": 5432, "database": "orders", "ssl": "require"},
        auth={"method": "basic", "username": "app"},
        secrets=secrets,
        health_check=HealthCheckSettings(),
        tags=["bench"],
        description="",
    )
    event = StoredEvent(
        position=index + 1,
        event_id=str(uuid.uuid4()),
        stream_id=str(uuid.uuid4()),
        version=1,
        type="ConnectionCreated",
        tenant=tenant,
        data=data.model_dump(mode="json"),
        metadata={},
        recorded_at=now,
        hash=GENESIS_HASH,
    )
    state = apply(None, event)
    if state is None:
        raise BenchError("the fold of ConnectionCreated gave no state")
    return state


def _connection_row(state: ConnectionState) -> dict[str, Any]:
    """The projection row of ``state``: its fields are the table's columns."""
    row = {column.name: getattr(state, column.name) for column in connections.columns}
    row["secrets"] = None if state.secrets is None else state.secrets.model_dump(mode="json")
    row["tags"] = list(state.tags)
    return row


async def seed_connections(engine: AsyncEngine, tenant: str, count: int) -> list[str]:
    """Store ``count`` connections of ``tenant`` in the projection; returns their ids.

    Bulk inserts, ``SEED_CHUNK`` rows a statement: the API reads only these tables.
    """
    now = datetime.now(UTC)
    states = [_created_state(tenant, index, now) for index in range(count)]
    for start in range(0, count, SEED_CHUNK):
        chunk = states[start : start + SEED_CHUNK]
        tags = [{"connection_id": state.id, "tag": tag} for state in chunk for tag in state.tags]
        async with write_transaction(engine) as connection:
            await connection.execute(insert(connections), [_connection_row(s) for s in chunk])
            await connection.execute(insert(connection_tags), tags)
    return [state.id for state in states]


def load_argv(spec: LoadSpec) -> list[str]:
    """The load generator's command line: wrk where installed (``auto``), else the Python one."""
    wrk = shutil.which("wrk") if spec.loader != "python" else None
    if spec.loader == "wrk" and wrk is None:
        raise BenchError("--loader wrk, but wrk is not installed")
    if wrk is not None:
        duration = f"{max(1, round(spec.duration_s))}s"
        return [
            wrk,
            "-t1",
            f"-c{spec.concurrency}",
            f"-d{duration}",
            "-s",
            str(WRK_SCRIPT),
            spec.base_url,
        ]
    return [
        sys.executable,
        str(PYTHON_LOADER),
        "--base-url",
        spec.base_url,
        "--ids-file",
        str(spec.ids_file),
        "--duration",
        str(spec.duration_s),
        "--concurrency",
        str(spec.concurrency),
    ]


async def read_each_once(spec: LoadSpec) -> None:
    """Every stored id read once (``concurrency`` at a time), before a served load is
    measured: the steady state of an API that has served a while, every view kept,
    whichever ids the load then picks."""
    ids = spec.ids_file.read_text().split()
    headers = {"Authorization": f"Bearer {spec.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def read(chunk: list[str]) -> None:
            for connection_id in chunk:
                url = f"{spec.base_url}/api/connections/{connection_id}"
                async with session.get(url) as response:
                    if response.status != 200:
                        raise BenchError(f"sweep: {url} answered {response.status}")
                    await response.read()

        await asyncio.gather(*(read(ids[n :: spec.concurrency]) for n in range(spec.concurrency)))


async def drive(spec: LoadSpec, name: str, log: Path) -> LoadResult:
    """Run the load process to its end; its last output line is a JSON summary."""
    env = {"BENCH_IDS_FILE": str(spec.ids_file), "BENCH_TOKEN": spec.token}
    log.unlink(missing_ok=True)
    loader = ChildProcess(name, load_argv(spec), env, log)
    try:
        code = await loader.wait(timeout_s=spec.duration_s + 30)
    finally:
        await loader.stop(grace_s=1.0)
    if code != 0:
        raise BenchError(f"{name} exited with code {code}:\n{log.read_text(errors='replace')}")
    return _summary(log, name)


def _summary(log: Path, name: str) -> LoadResult:
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"{name} printed no summary:\n{log.read_text(errors='replace')}")
    summary = json.loads(lines[-1])
    result = LoadResult(
        requests=int(summary["requests"]),
        failed=int(summary["non_2xx"]) + int(summary["errors"]),
        duration_s=float(summary["duration_s"]),
    )
    if result.requests == 0 or result.failed > MAX_ERROR_SHARE * result.requests:
        raise BenchError(f"{name}: {result.failed} of {result.requests} requests failed")
    return result
