"""A real ``connmgr worker`` process through a broker outage: its probe port, its log lines,
and a SIGTERM while the broker is away."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from connmgr.runtime.nats_reconnect import RECONNECT_BACKOFF
from connmgr.runtime.nats_server import NatsServer
from connmgr.workers.keyring import Keyring
from support.fixture_types import StartNatsServer
from support.waiting import wait_for

PLANTED = "planted-api-token-4f1c9e"
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    port: int
    lines: list[str] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)

    def events(self, name: str) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.lines]
        return [line for line in parsed if line.get("event") == name]

    def probe(self, route: str) -> tuple[int | None, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/{route}"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except OSError:
            return None, {}
        self.answers.append(body)
        return status, json.loads(body)

    async def answers_with(self, route: str, status: int, timeout: float) -> dict[str, Any]:
        async def answered() -> dict[str, Any] | None:
            got, body = await asyncio.to_thread(self.probe, route)
            return body if got == status else None

        found = await wait_for(answered, timeout=timeout, interval=0.5, message=f"{route} {status}")
        assert found is not None
        return found


async def _read(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while raw := await stream.readline():
        lines.append(raw.decode().rstrip("\n"))


@pytest.fixture
async def start_worker(tmp_path: Path) -> AsyncIterator[Any]:
    started: list[tuple[Worker, asyncio.Task[None]]] = []
    keyring = Keyring.generate()

    async def start(pool: str, nats_url: str) -> Worker:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CONNMGR_")},
            "CONNMGR_NATS_URL": nats_url,
            "CONNMGR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/{pool}.sqlite",
            "CONNMGR_KEYRING": keyring.to_json(),
            "CONNMGR_API_TOKEN": PLANTED,
            "CONNMGR_LOG_FORMAT": "json",
            "CONNMGR_HEALTH_PORT": str(port),
            "CONNMGR_SHUTDOWN_GRACE_S": "10",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "connmgr.runtime.cli", "worker", pool,
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stderr is not None
        worker = Worker(process, port)
        started.append((worker, asyncio.create_task(_read(process.stderr, worker.lines))))
        return worker

    yield start
    for worker, reader in started:
        if worker.process.returncode is None:
            worker.process.kill()
            await worker.process.wait()
        await asyncio.wait_for(reader, 10)
    secrets = [PLANTED, keyring.to_json(), *(k.hex() for k in keyring.keys.values())]
    for worker, _ in started:
        for body in worker.answers:
            assert set(json.loads(body)) <= {"status", "reason"}
            assert not any(secret.encode() in body for secret in secrets)


def assert_one_line_warnings(worker: Worker) -> list[dict[str, Any]]:
    """Every line is JSON; each failed reconnection is one short WARNING line without a
    traceback, and its announced wait grows (jittered) until the cap."""
    attempts = worker.events("nats_unavailable")
    assert len(attempts) >= 3, worker.lines
    assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
    for line, event in zip(worker.lines, map(json.loads, worker.lines), strict=True):
        assert "exception" not in event, line
        assert event["level"] not in ("error", "critical"), line
        if event["event"] == "nats_unavailable":
            assert event["level"] == "warning"
            assert len(line) < 400
    waits = [a["retry_in_s"] for a in attempts]
    below_cap = [w for w in waits if w < RECONNECT_BACKOFF.max_delay_s / 2]
    assert below_cap == sorted(below_cap), waits
    assert len(set(waits)) == len(waits), "jittered"
    return attempts


async def test_a_worker_is_unready_while_nats_is_away_and_ready_once_it_is_back(
    nats_server_factory: StartNatsServer, start_worker: Any
) -> None:
    server: NatsServer = await nats_server_factory()
    worker: Worker = await start_worker("tester", server.url)
    await worker.answers_with("readyz", 200, START_TIMEOUT_S)
    assert (await asyncio.to_thread(worker.probe, "livez"))[0] == 200

    await server.kill()
    body = await worker.answers_with("readyz", 503, 30)
    assert body == {"status": "unavailable", "reason": "nats_disconnected"}
    assert (await asyncio.to_thread(worker.probe, "livez"))[0] == 200  # away is not dead
    await wait_for(lambda: len(worker.events("nats_unavailable")) >= 4, timeout=30)

    await server.restart()
    await worker.answers_with("readyz", 200, 60)
    assert worker.events("nats_reconnected")
    worker.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(worker.process.wait(), 60) == 0
    assert_one_line_warnings(worker)
    assert not [line for line in worker.lines if "nats: encountered error" in line]


async def test_sigterm_during_a_nats_outage_exits_cleanly_with_json_logs_throughout(
    nats_server_factory: StartNatsServer, start_worker: Any
) -> None:
    server: NatsServer = await nats_server_factory()
    worker: Worker = await start_worker("relay", server.url)
    await worker.answers_with("readyz", 200, START_TIMEOUT_S)
    await server.kill()
    await wait_for(lambda: len(worker.events("nats_unavailable")) >= 3, timeout=30)

    worker.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(worker.process.wait(), 60) == 0
    await asyncio.sleep(0)  # let the reader take the last lines
    await wait_for(lambda: bool(worker.events("pool_stopped")), timeout=10)
    assert not [line for line in worker.lines if "Traceback" in line or "Error:" in line[:40]]
    assert_one_line_warnings(worker)
