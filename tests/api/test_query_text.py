"""Query text every database can hold: NUL and lone surrogates in any query parameter,
or inside a cursor, are a 400 problem on both backends (never a 500, never "match all")."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from api.clients import ApiClient, Tokens, bearer
from support.seeds import Seed


def cursor_of(name: str) -> str:
    """A cursor of the right shape around ``name``, as UTF-8 spells it in a query."""
    return quote("00000000-0000-0000-0000-000000000000:", safe="") + name


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/connections", "q=%00", "q"),
        ("/api/connections", "q=orders%00", "q"),
        ("/api/connections", "status=%00", "status"),
        ("/api/connections", "kind=%00", "kind"),
        ("/api/connections", "tag=%00", "tag"),
        ("/api/connections", "q=%ED%A0%80", "q"),  # a lone surrogate, as UTF-8 would spell it
        ("/api/connections", "q=%FF", "q"),  # not UTF-8 at all
        ("/api/connections", "cursor=" + cursor_of("a%00b"), "cursor"),
        ("/api/connections", "cursor=" + cursor_of("%ED%A0%80"), "cursor"),
        ("/api/connections", "%00=1", "query"),
        ("/api/connections/templates", "q=%00", "q"),
        ("/api/connections/health/alerts", "state=%00", "state"),
        ("/api/connections/stats", "connection_id=%00", "connection_id"),
        ("/api/events", "after=%00", "after"),
    ],
)
async def test_invalid_text_in_a_query_is_a_400_problem_with_a_reason(
    client: ApiClient, tokens: Tokens, seed: Seed, path: str, query: str, field: str
) -> None:
    await seed.connection("orders-db")
    response = await client.get(f"{path}?{query}", headers=bearer(tokens.acme))
    body = await response.json(content_type=None)

    assert response.status == 400, body
    assert response.content_type == "application/problem+json"
    assert body["type"] == "urn:connmgr:problem:invalid-parameters"
    assert [error["field"] for error in body["errors"]] == [field]
    assert all(error["message"] and error["code"] for error in body["errors"])
    assert "\x00" not in json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize(
    "query",
    ["q=orders", "q=%01orders", "status=down", "tag=prod", "q=%C3%A9", "cursor=" + cursor_of("c")],
)
async def test_the_same_parameters_with_text_are_answered(
    client: ApiClient, tokens: Tokens, seed: Seed, query: str
) -> None:
    await seed.connection("orders-db")
    await seed.connection("billing-db")
    response = await client.get(f"/api/connections?{query}", headers=bearer(tokens.acme))
    assert response.status == 200, await response.text()
    names = [item["name"] for item in (await response.json())["items"]]
    assert "billing-db" not in names  # none of these matches everything
