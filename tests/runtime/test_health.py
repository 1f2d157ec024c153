"""The worker probe port in process: what /livez and /readyz answer, and what they refuse.

The same port in a real ``connmgr worker`` process, through a broker outage, is
``test_worker_probes``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient

from connmgr.runtime.health import (
    FAILING_AFTER,
    STALE_AFTER_S,
    STALL_AFTER_S,
    HealthState,
    Verdict,
    keep_checking,
)
from connmgr.runtime.health_server import ProbeServer, probe_routes
from connmgr.runtime.readiness import readiness_check
from connmgr.runtime.supervision import PoolStatus
from connmgr.schemas.bus.consumers import TESTER_CONSUMER
from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.storage.database import create_engine
from connmgr.workers.durables import ensure_consumer
from connmgr.workers.streams import ensure_streams
from support.fixture_types import StartNatsServer
from support.waiting import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def running_state(clock: Clock) -> tuple[HealthState, asyncio.Event]:
    stop, status = asyncio.Event(), PoolStatus()
    state = HealthState(status, stop, clock)
    status.running()
    state.record(Verdict(True))
    return state, stop


async def test_a_running_checked_pool_is_live_and_ready() -> None:
    state, _ = running_state(Clock())
    assert state.liveness() == Verdict(True)
    assert state.readiness() == Verdict(True)


async def test_a_stuck_event_loop_fails_liveness_and_readiness() -> None:
    clock = Clock()
    state, _ = running_state(clock)
    clock.now += STALL_AFTER_S - 0.5
    assert state.liveness().ok  # a late beat within the bound is no stall
    clock.now += 1.0
    assert state.liveness() == Verdict(False, "event_loop_stalled")
    assert state.readiness() == Verdict(False, "event_loop_stalled")
    state.beat()
    assert state.liveness().ok


async def test_a_pool_failing_again_and_again_is_dead_a_restarting_one_is_only_unready() -> None:
    state, _ = running_state(Clock())
    state.status.failed(FAILING_AFTER - 1)
    assert state.liveness().ok
    assert state.readiness() == Verdict(False, "pool_restarting")
    state.status.failed(FAILING_AFTER)
    assert state.liveness() == Verdict(False, "pool_failing")
    state.status.running()
    assert state.liveness().ok


async def test_readiness_reports_starting_stopping_the_check_and_an_overdue_check() -> None:
    clock = Clock()
    stop, status = asyncio.Event(), PoolStatus()
    state = HealthState(status, stop, clock)
    assert state.readiness() == Verdict(False, "pool_starting")
    status.running()
    assert state.readiness() == Verdict(False, "not_checked_yet")
    state.record(Verdict(False, "nats_disconnected"))
    assert state.readiness() == Verdict(False, "nats_disconnected")
    assert state.liveness().ok  # an absent broker is no reason to restart
    state.record(Verdict(True))
    clock.now += STALE_AFTER_S + 1
    state.beat()
    assert state.readiness() == Verdict(False, "check_overdue")
    state.record(Verdict(True))
    stop.set()
    assert state.readiness() == Verdict(False, "stopping")
    assert state.liveness().ok  # finishing in-flight work is being alive
    state.ended = True
    assert state.liveness() == Verdict(False, "ended")


async def test_a_check_that_raises_is_a_reason_and_the_checks_go_on() -> None:
    state, stop = running_state(Clock())
    calls = 0

    async def check() -> str | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return None

    task = asyncio.create_task(keep_checking(state, check, stop))
    await wait_for(lambda: state.readiness() == Verdict(False, "check_failed: RuntimeError"))
    await wait_for(lambda: state.readiness().ok, timeout=15)
    stop.set()
    await asyncio.wait_for(task, 5)


# --- the port -------------------------------------------------------------------------


@pytest.fixture
def port_of() -> Iterator[tuple[HealthState, int]]:
    state, _ = running_state(Clock())
    server = ProbeServer("127.0.0.1", 0, probe_routes(state, "tester"))
    server.start()
    assert server.port is not None
    try:
        yield state, server.port
    finally:
        server.stop()


def ask(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_the_port_answers_its_two_routes_with_a_status_and_a_reason(
    port_of: tuple[HealthState, int],
) -> None:
    state, port = port_of
    assert ask(port, "GET", "/livez")[::2] == (200, b'{"status": "ok"}')
    assert ask(port, "GET", "/readyz")[::2] == (200, b'{"status": "ok"}')
    state.record(Verdict(False, "database_unreachable"))
    status, headers, body = ask(port, "GET", "/readyz?verbose=1")
    assert status == 503
    assert json.loads(body) == {"status": "unavailable", "reason": "database_unreachable"}
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    assert ask(port, "GET", "/livez")[0] == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"])
def test_the_port_answers_only_get(port_of: tuple[HealthState, int], method: str) -> None:
    _, port = port_of
    assert ask(port, "GET", "/readyz")[0] == 200  # the route exists and works for GET
    status, headers, _ = ask(port, method, "/readyz")
    assert status == 405
    assert headers["Allow"] == "GET"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/metric",
        "/metrics/x",
        "/readyz/../livez/..",
        "/%2e%2e/etc/passwd",
        "/livez/x",
        "/LIVEZ",
    ],
)
def test_every_other_path_is_a_404(port_of: tuple[HealthState, int], path: str) -> None:
    _, port = port_of
    status, _, body = ask(port, "GET", path)
    assert status == 404
    assert json.loads(body) == {"status": "error", "reason": "not_found"}


def test_the_port_names_no_python_version(port_of: tuple[HealthState, int]) -> None:
    _, port = port_of
    assert ask(port, "GET", "/livez")[1]["Server"] == "connmgr-health"


def test_a_port_in_use_is_one_error_line_and_no_server(port_of: tuple[HealthState, int]) -> None:
    state, port = port_of
    second = ProbeServer("127.0.0.1", port, probe_routes(state, "tester"))
    second.start()
    assert second.port is None
    second.stop()  # nothing to stop: harmless


def test_a_probe_survives_a_client_that_never_sends_a_request(
    port_of: tuple[HealthState, int],
) -> None:
    _, port = port_of
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    idle.connect()  # opens and sends nothing
    try:
        assert ask(port, "GET", "/livez")[0] == 200
    finally:
        idle.close()


# --- readiness against real services ----------------------------------------------------


async def test_readiness_names_the_missing_durable_then_passes_once_it_exists(
    nats_server_factory: StartNatsServer, tmp_path: Path
) -> None:
    server = await nats_server_factory()
    nc: NatsClient = await nats.connect(server.url)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/db.sqlite")
    try:
        check = readiness_check("tester", nc, engine)
        assert await check() == "consumer_missing: CONNMGR_CMD/tester"
        js = nc.jetstream()
        await ensure_streams(js)
        await ensure_consumer(js, COMMAND_STREAM, TESTER_CONSUMER)
        assert await check() is None
        assert await readiness_check("relay", nc, engine)() is None
        assert await readiness_check("nats-auth", nc, engine)() is None
        await nc.close()
        assert await check() == "nats_disconnected"
    finally:
        await engine.dispose()


async def test_readiness_says_when_the_database_does_not_answer(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    engine = create_engine("postgresql+asyncpg://nobody:secret-pw@127.0.0.1:1/none")
    try:
        reason = await readiness_check("nats-auth", nc, engine)()
        assert reason == "database_unreachable"
    finally:
        await nc.close()
        await engine.dispose()
