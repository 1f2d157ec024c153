"""Errors are RFC 9457 problem documents with field errors, never internals."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from api.clients import ApiClient, Tokens, bearer
from connmgr.api import create_app
from connmgr.runtime.pools import serve_api
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine

PROBLEM_KEYS = {"type", "title", "status", "detail"}


async def problem(response: Any) -> dict[str, Any]:
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == response.status
    return body


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/connections", {"limit": "0"}, "limit"),
        ("/api/connections", {"limit": "201"}, "limit"),
        ("/api/connections", {"limit": "abc"}, "limit"),
        ("/api/connections", {"kind": "oracle"}, "kind"),
        ("/api/connections", {"cursor": "not-a-cursor!"}, "cursor"),
        ("/api/connections", {"cursor": "eyJuIjoxfQ"}, "cursor"),  # {"n":1}
        ("/api/connections", {"tag": "has space"}, "tag"),
        ("/api/connections", {"knd": "postgres"}, "knd"),
        ("/api/events", {"after": "-1"}, "after"),
        ("/api/events", {"after": str(2**63)}, "after"),
        ("/api/events", {"limit": "1.5"}, "limit"),
    ],
)
async def test_a_bad_query_parameter_is_a_400_problem_naming_the_field(
    client: ApiClient, tokens: Tokens, path: str, params: dict[str, str], field: str
) -> None:
    response = await client.get(path, params=params, headers=bearer(tokens.acme))
    body = await problem(response)

    assert response.status == 400
    assert body["type"] == "urn:connmgr:problem:invalid-parameters"
    assert [error["field"] for error in body["errors"]] == [field]
    assert all(error["message"] and error["code"] for error in body["errors"])
    assert params[field] not in str(body["errors"])


async def test_every_bad_parameter_is_reported_at_once(client: ApiClient, tokens: Tokens) -> None:
    params = {"limit": "0", "kind": "oracle", "cursor": "@@"}

    response = await client.get("/api/connections", params=params, headers=bearer(tokens.acme))

    body = await problem(response)
    assert sorted(error["field"] for error in body["errors"]) == ["cursor", "kind", "limit"]


async def test_a_repeated_parameter_is_a_400(client: ApiClient, tokens: Tokens) -> None:
    path = "/api/connections?kind=redis&kind=postgres"

    response = await client.get(path, headers=bearer(tokens.acme))

    body = await problem(response)
    assert body["errors"][0]["field"] == "kind"


@pytest.mark.parametrize(
    "path", ["/api/connections/not-a-uuid", "/api/connections/1234/logs", "/nowhere"]
)
async def test_a_path_that_names_nothing_is_a_404_problem(
    client: ApiClient, tokens: Tokens, path: str
) -> None:
    response = await client.get(path, headers=bearer(tokens.acme))

    body = await problem(response)
    assert response.status == 404
    assert body["type"] == "urn:connmgr:problem:not-found"


async def test_a_wrong_method_is_a_405_problem_with_allow(client: ApiClient) -> None:
    response = await client.post("/api/connections")

    await problem(response)
    assert response.status == 405
    assert response.headers["Allow"] == "GET"


async def test_an_unexpected_failure_is_a_generic_500_logged_without_internals(
    database_url: str,
) -> None:
    # A database without the schema: the token lookup fails inside the driver.
    empty = create_engine(database_url)
    app = create_app(Settings(database_url=database_url), engine=empty)
    try:
        with capture_logs() as logs:
            async with TestClient(TestServer(app)) as client:
                response = await client.get("/api/connections", headers=bearer("cm_x"))
                body = await problem(response)
    finally:
        await empty.dispose()

    assert response.status == 500
    assert body["detail"] == "The server could not complete the request; it has been logged."
    text = str(body).lower()
    for internal in ("traceback", "sqlite", "asyncpg", "api_tokens", "error:", "relation"):
        assert internal not in text
    assert [log["event"] for log in logs if log["log_level"] == "error"] == ["api.unhandled_error"]


# --- requests aiohttp answers before the application (api.serving) ---------------------

LONG = "x" * 20_000
TOKEN_IN_A_BAD_HEADER = "cm_not-a-real-token-but-secret-looking-0123456789"


@pytest.mark.parametrize(
    "raw",
    [
        f"GET /api/connections?q={LONG} HTTP/1.1\r\nHost: api\r\n\r\n",  # request line
        f"GET /healthz HTTP/1.1\r\nHost: api\r\nX-Long: {LONG}\r\n\r\n",  # one header
        f"GET / HTTP/1.1\r\nHost: api\r\nAuthorization Bearer {TOKEN_IN_A_BAD_HEADER}\r\n\r\n",
        f"FETCH\x01 /{TOKEN_IN_A_BAD_HEADER} HTTP/1.1\r\n\r\n",  # not HTTP at all
    ],
    ids=["long-request-line", "long-header", "malformed-header", "bad-method"],
)
async def test_a_request_aiohttp_cannot_read_is_a_problem_that_echoes_nothing(
    engine: AsyncEngine, database_url: str, raw: str
) -> None:
    settings = Settings(database_url=database_url, api_host="127.0.0.1", api_port=0)
    runner = await serve_api(settings, engine)  # as `connmgr api` serves it
    try:
        port = runner.addresses[0][1]
        with capture_logs() as logs:
            head, body = await _exchange(port, raw.encode())
    finally:
        await runner.cleanup()

    document = json.loads(body)
    assert head[0].partition(" ")[2] == "400 Bad Request"
    assert "content-type: application/problem+json; charset=utf-8" in head
    assert document == {
        "type": "urn:connmgr:problem:unreadable-request",
        "title": "Bad Request",
        "status": 400,
        "detail": "The request could not be read: a line or header too long, or malformed.",
    }
    assert [log["event"] for log in logs] == ["api.unreadable_request"]
    for text in (body, str(logs)):
        assert TOKEN_IN_A_BAD_HEADER not in text
        assert "xxxxxxxx" not in text


async def _exchange(port: int, request: bytes) -> tuple[list[str], str]:
    """Send raw bytes; the status line and lower-cased headers, and the body, as sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()  # the server closes the connection after an error
    writer.close()
    head, _, body = answer.decode().partition("\r\n\r\n")
    status, *headers = head.split("\r\n")
    return [status, *(header.lower() for header in headers)], body
