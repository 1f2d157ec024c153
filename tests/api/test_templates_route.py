"""``list_templates`` serves the catalogue, filtered, and answers bad parameters as problems.

The handler runs in a bare application with the project's problem middleware: it
needs no database, and its route is registered by the application's route table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.clients import ApiClient
from connmgr.api.problems import problem_middleware
from connmgr.api.templates import list_templates
from connmgr.schemas.templates import load_catalogue

PATH = "/api/connections/templates"


@pytest.fixture
async def client() -> AsyncIterator[ApiClient]:
    app = web.Application(middlewares=[problem_middleware()])
    app.router.add_get(PATH, list_templates)
    async with TestClient(TestServer(app)) as client:
        yield client


async def items(client: ApiClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get(PATH, params=params)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    assert list(body) == ["items"]
    found: list[dict[str, Any]] = body["items"]
    return found


async def problem(client: ApiClient, **params: str) -> dict[str, Any]:
    response = await client.get(PATH, params=params)
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["type"] == "urn:connmgr:problem:invalid-parameters"
    return body


async def test_without_filters_every_template_is_listed(client: ApiClient) -> None:
    found = await items(client)

    assert {item["id"] for item in found} == load_catalogue().keys()


async def test_each_item_carries_what_a_connection_form_needs(client: ApiClient) -> None:
    found = await items(client, q="stripe")
    stripe = next(item for item in found if item["id"] == "stripe")

    assert stripe["kind"] == "http"
    assert stripe["category"] == "payment"
    assert stripe["config"]["test"]["path"] == "/v1/balance"
    assert stripe["auth"] == {"method": "bearer"}
    assert stripe["secret_fields"] == ["token"]
    assert stripe["setup_notes"]
    assert stripe["docs_url"].startswith("https://")


async def test_category_keeps_only_that_category(client: ApiClient) -> None:
    found = await items(client, category="messaging")

    assert {item["category"] for item in found} == {"messaging"}
    assert {"slack-webhook", "teams-webhook", "discord-webhook"} <= {i["id"] for i in found}


async def test_q_searches_case_insensitively(client: ApiClient) -> None:
    found = await items(client, q="  PostgreSQL ")

    assert "postgresql" in {item["id"] for item in found}


async def test_category_and_q_together_may_find_nothing(client: ApiClient) -> None:
    assert await items(client, category="ai", q="redis") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "games"}, "category"),
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"kind": "http"}, "kind"),
    ],
)
async def test_a_bad_parameter_is_a_400_problem_naming_it(
    client: ApiClient, params: dict[str, str], field: str
) -> None:
    body = await problem(client, **params)

    assert [error["field"] for error in body["errors"]] == [field]
    assert not params[field] or params[field] not in str(body["errors"])


async def test_a_repeated_parameter_is_a_400_problem(client: ApiClient) -> None:
    response = await client.get(f"{PATH}?category=ai&category=social")

    assert response.status == 400
    body = await response.json(content_type=None)
    assert [error["code"] for error in body["errors"]] == ["repeated"]
