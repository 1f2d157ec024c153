"""The read-API client and the ``ls``/``show`` commands, against a canned aiohttp server."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from producer_fakes import ACTOR, TENANT

from connmgr.producers.api_client import (
    ApiError,
    ApiUnreachable,
    get_connection,
    list_connections,
)
from connmgr.producers.cli import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, CliContext, register
from support.leaks import LeakChannels

TOKEN = "read-" + uuid.uuid4().hex
KNOWN = str(uuid.uuid4())
CONNECTION = {"id": KNOWN, "name": "orders-db", "kind": "postgres", "status": "healthy",
              "version": 3, "tags": ["prod"], "secret_fields": ["password"]}  # fmt: skip
PAGE = {"items": [CONNECTION], "next_cursor": "b3JkZXJz"}


class CannedApi:
    """Answers like the read API: bearer auth, a page, one connection, problems."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.app = web.Application()
        self.app.router.add_get("/api/connections", self.list)
        self.app.router.add_get("/api/connections/{id}", self.show)

    async def list(self, request: web.Request) -> web.Response:
        self._authorize(request)
        self.queries.append(dict(request.query))
        return web.json_response(PAGE)

    async def show(self, request: web.Request) -> web.Response:
        self._authorize(request)
        if request.match_info["id"] != KNOWN:
            raise _problem(404, "Not Found", "no such connection")
        return web.json_response(CONNECTION)

    def _authorize(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise _problem(401, "Unauthorized", "the token is unknown or revoked")


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


async def run(argv: list[str], ctx: CliContext) -> int:
    root = argparse.ArgumentParser(prog="connmgr")
    register(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(argv)
    code: int = await args.handler(args, ctx)
    return code


def context(api_url: str | None, token: str | None = TOKEN) -> CliContext:
    return CliContext(
        nats_url="nats://unused", tenant=TENANT, actor_id=ACTOR, api_url=api_url, api_token=token
    )


async def test_list_sends_the_token_and_the_given_filters_only(
    api: tuple[CannedApi, str],
) -> None:
    canned, url = api

    page = await list_connections(url, TOKEN, kind="postgres", tag="prod", limit=10)

    assert page == PAGE
    assert canned.queries == [{"kind": "postgres", "tag": "prod", "limit": "10"}]


async def test_get_returns_the_connection_document(api: tuple[CannedApi, str]) -> None:
    _, url = api

    assert await get_connection(url, TOKEN, uuid.UUID(KNOWN)) == CONNECTION


async def test_a_problem_answer_raises_api_error_with_its_detail(
    api: tuple[CannedApi, str], leak_channels: LeakChannels
) -> None:
    _, url = api

    with pytest.raises(ApiError) as raised:
        await get_connection(url, TOKEN, uuid.uuid4())

    assert (raised.value.status, raised.value.detail) == (404, "no such connection")
    leak_channels.secrets(TOKEN)
    leak_channels.add_exception("api error", raised.value)
    leak_channels.assert_clean()


async def test_an_unreachable_api_raises_api_unreachable() -> None:
    with pytest.raises(ApiUnreachable):
        await list_connections("http://127.0.0.1:1", TOKEN, timeout_s=2.0)


async def test_ls_prints_one_row_per_connection_and_the_next_cursor(
    api: tuple[CannedApi, str], capsys: pytest.CaptureFixture[str]
) -> None:
    canned, url = api

    code = await run(["ls", "--kind", "postgres", "--q", "orders"], context(url))

    printed = capsys.readouterr()
    header, row = printed.out.splitlines()
    assert code == EXIT_OK
    assert header.split() == ["ID", "NAME", "KIND", "STATUS", "VERSION"]
    assert row.split() == [KNOWN, "orders-db", "postgres", "healthy", "3"]
    assert "--cursor b3JkZXJz" in printed.err
    assert canned.queries == [{"kind": "postgres", "q": "orders"}]


async def test_show_json_prints_the_api_document(
    api: tuple[CannedApi, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = api

    code = await run(["show", KNOWN, "--json"], context(url))

    assert code == EXIT_OK
    assert json.loads(capsys.readouterr().out) == CONNECTION


async def test_show_of_an_unseen_connection_exits_1_with_the_problem_detail(
    api: tuple[CannedApi, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = api

    code = await run(["show", str(uuid.uuid4())], context(url))

    assert code == EXIT_REJECTED
    assert "404 Not Found: no such connection" in capsys.readouterr().err


async def test_the_options_override_the_context_and_a_bad_token_is_refused(
    api: tuple[CannedApi, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = api

    code = await run(["ls", "--api-url", url, "--token", "wrong"], context(None, None))

    assert code == EXIT_REJECTED
    assert "401 Unauthorized: the token is unknown or revoked" in capsys.readouterr().err


async def test_ls_without_an_api_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = await run(["ls"], context(None))

    assert code == EXIT_USAGE
    assert "--api-url" in capsys.readouterr().err
