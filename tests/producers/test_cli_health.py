"""``connmgr status`` and ``connmgr alerts`` against a canned read API (aiohttp test server)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cli_runner import parser, run
from producer_fakes import ACTOR, TENANT

from connmgr.producers.cli import EXIT_OK, EXIT_REJECTED, EXIT_UNAVAILABLE, EXIT_USAGE, CliContext

TOKEN = "read-" + uuid.uuid4().hex
ORDERS, CACHE, GONE = (str(uuid.uuid4()) for _ in range(3))
CONNECTIONS = {
    "items": [
        {"id": ORDERS, "name": "orders-db", "kind": "postgres", "status": "healthy",
         "status_since": "2026-03-02T12:00:05Z"},
        {"id": CACHE, "name": "cache", "kind": "redis", "status": "unknown", "status_since": None},
        {"id": GONE, "name": "gone", "kind": "tcp", "status": "down",
         "status_since": "2026-03-02T13:00:00+01:00"},
    ],
    "next_cursor": "b3JkZXJz",
}  # fmt: skip
DAY = {
    ORDERS: {"uptime_percent": 99.5, "latency_p95_ms": 12.34},
    CACHE: {"uptime_percent": None, "latency_p95_ms": None},
}
OPEN_ALERT = str(uuid.uuid4())
ALERTS = {
    "items": [
        {"alert_id": OPEN_ALERT, "connection_id": ORDERS, "connection_name": "orders-db",
         "state": "open", "reason": "3 consecutive failures", "outcome": "timeout",
         "raised_at": "2026-03-02T12:00:00Z", "resolved_at": None, "open_s": 7505.2},
        {"alert_id": str(uuid.uuid4()), "connection_id": CACHE, "connection_name": "cache",
         "state": "resolved", "reason": "1 consecutive failure", "outcome": None,
         "raised_at": "2026-03-01T10:00:00Z", "resolved_at": "2026-03-01T10:00:45Z",
         "open_s": 45.0},
    ],
    "next_cursor": None,
}  # fmt: skip


class CannedApi:
    """Answers like the read API: bearer auth, connections, stats, alerts; GONE is a 404."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_get("/api/connections", self.connections)
        self.app.router.add_get("/api/connections/stats", self.stats)
        self.app.router.add_get("/api/connections/health/alerts", self.alerts)

    async def connections(self, request: web.Request) -> web.Response:
        return self._answer(request, CONNECTIONS)

    async def stats(self, request: web.Request) -> web.Response:
        day = DAY.get(request.query.get("connection_id", ""))
        if day is None:
            self._answer(request, {})
            raise _problem(404, "Not found", "No such connection.")
        return self._answer(request, {"windows": {"24h": {"count": 10, **day}}})

    async def alerts(self, request: web.Request) -> web.Response:
        return self._answer(request, ALERTS)

    def _answer(self, request: web.Request, document: object) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise _problem(401, "Unauthorized", "The bearer token is not valid.")
        self.requests.append((request.path, dict(request.query)))
        return web.json_response(document)


def _problem(status: int, title: str, detail: str) -> web.HTTPException:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    error = web.HTTPException(text=body, content_type="application/problem+json")
    error.set_status(status)
    return error


@pytest.fixture
async def api() -> AsyncIterator[tuple[CannedApi, str]]:
    canned = CannedApi()
    server = TestServer(canned.app)
    await server.start_server()
    yield canned, str(server.make_url(""))
    await server.close()


def context(api_url: str | None, token: str | None = TOKEN) -> CliContext:
    return CliContext(
        nats_url="nats://unused", tenant=TENANT, actor_id=ACTOR, api_url=api_url, api_token=token
    )


def cells(line: str) -> list[str]:
    return line.split()


async def test_status_prints_each_connection_with_its_24h_uptime_and_p95(
    api: tuple[CannedApi, str], capsys: pytest.CaptureFixture[str]
) -> None:
    canned, url = api

    code = await run(["status", "--kind", "postgres", "--limit", "3"], context(url))

    printed = capsys.readouterr()
    header, orders, cache, gone = printed.out.splitlines()
    assert code == EXIT_OK
    assert cells(header) == ["NAME", "KIND", "STATUS", "SINCE", "UPTIME-24H", "P95-24H"]
    assert cells(orders) == ["orders-db", "postgres", "healthy", "2026-03-02T12:00:05Z",
                             "99.50%", "12.3ms"]  # fmt: skip
    assert cells(cache) == ["cache", "redis", "unknown", "-", "-", "-"]
    assert cells(gone) == ["gone", "tcp", "down", "2026-03-02T12:00:00Z", "-", "-"]
    assert "more: --cursor b3JkZXJz" in printed.err
    assert canned.requests[0] == ("/api/connections", {"kind": "postgres", "limit": "3"})
    stats = sorted(query["connection_id"] for path, query in canned.requests[1:])
    assert stats == sorted([ORDERS, CACHE, GONE])
    assert {query["window"] for _, query in canned.requests[1:]} == {"24h"}


async def test_status_json_prints_the_rows_with_their_figures(
    api: tuple[CannedApi, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = api

    code = await run(["status", "--json"], context(url))

    document = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert document["next_cursor"] == "b3JkZXJz"
    assert document["items"][0] == {
        "id": ORDERS,
        "name": "orders-db",
        "kind": "postgres",
        "status": "healthy",
        "since": "2026-03-02T12:00:05Z",
        "uptime_24h_percent": 99.5,
        "latency_p95_24h_ms": 12.34,
    }
    assert document["items"][2]["uptime_24h_percent"] is None


async def test_alerts_prints_open_then_resolved_with_how_long_they_were_open(
    api: tuple[CannedApi, str], capsys: pytest.CaptureFixture[str]
) -> None:
    canned, url = api

    code = await run(["alerts"], context(url))

    header, opened, resolved = capsys.readouterr().out.splitlines()
    assert code == EXIT_OK
    assert cells(header) == ["ALERT", "CONNECTION", "STATE", "RAISED", "RESOLVED", "OPEN",
                             "OUTCOME", "REASON"]  # fmt: skip
    assert cells(opened) == [OPEN_ALERT[:8], "orders-db", "open", "2026-03-02T12:00:00Z", "-",
                             "2h05m", "timeout", "3", "consecutive", "failures"]  # fmt: skip
    assert cells(resolved)[2:7] == ["resolved", "2026-03-01T10:00:00Z", "2026-03-01T10:00:45Z",
                                    "45s", "-"]  # fmt: skip
    assert canned.requests == [("/api/connections/health/alerts", {})]


async def test_alerts_sends_the_state_connection_and_paging_filters(
    api: tuple[CannedApi, str], capsys: pytest.CaptureFixture[str]
) -> None:
    canned, url = api
    argv = ["alerts", "--state", "open", "--connection", ORDERS, "--limit", "5", "--cursor", "c"]

    code = await run([*argv, "--json"], context(url))

    assert code == EXIT_OK
    assert json.loads(capsys.readouterr().out) == ALERTS
    expected = {"state": "open", "connection_id": ORDERS, "limit": "5", "cursor": "c"}
    assert canned.requests == [("/api/connections/health/alerts", expected)]


async def test_a_refused_token_exits_1_with_the_problem_detail(
    api: tuple[CannedApi, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = api

    for command in ("status", "alerts"):
        code = await run([command, "--token", "wrong"], context(url))

        assert code == EXIT_REJECTED
        assert "401 Unauthorized: The bearer token is not valid." in capsys.readouterr().err


async def test_without_an_api_url_exits_2_and_unreachable_exits_4(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await run(["status"], context(None)) == EXIT_USAGE
    assert "--api-url" in capsys.readouterr().err
    assert await run(["alerts"], context("http://127.0.0.1:1")) == EXIT_UNAVAILABLE
    assert "did not answer" in capsys.readouterr().err


def test_an_unknown_alert_state_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["alerts", "--state", "closed"])

    assert exited.value.code == EXIT_USAGE
