"""GET /api/connections, /api/connections/{id} and its logs, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

from api.clients import ApiClient, Tokens, bearer, get_json
from support.seeds import Seed


async def names(client: ApiClient, token: str, **params: Any) -> list[str]:
    body = await get_json(client, "/api/connections", token, **params)
    return [item["name"] for item in body["items"]]


async def test_lists_the_tenants_live_connections_by_name(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    await seed.connection("b-db")
    await seed.connection("a-db")
    await seed.connection("c-db", deleted=True)
    await seed.connection("d-db", tenant="globex")

    body = await get_json(client, "/api/connections", tokens.acme)

    assert [item["name"] for item in body["items"]] == ["a-db", "b-db"]
    assert body["next_cursor"] is None


async def test_filters_by_kind_status_and_tag(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    await seed.connection("pg", kind="postgres", status="healthy", tags=["prod", "eu"])
    await seed.connection("hook", kind="webhook", status="failing", tags=["prod"])
    await seed.connection("cache", kind="redis", status="healthy", tags=["dev"])

    assert await names(client, tokens.acme, kind="postgres") == ["pg"]
    assert await names(client, tokens.acme, status="healthy") == ["cache", "pg"]
    assert await names(client, tokens.acme, tag="prod") == ["hook", "pg"]
    assert await names(client, tokens.acme, tag="prod", status="healthy") == ["pg"]
    assert await names(client, tokens.acme, tag="none-such") == []


async def test_q_matches_a_substring_of_name_or_description_ignoring_case(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    await seed.connection("Orders-DB")
    await seed.connection("billing", description="Stripe for ORDERS")
    await seed.connection("crm")
    await seed.connection("100%_literal")

    # Ordering follows the database's collation: compare as sets across cases.
    assert set(await names(client, tokens.acme, q="orders")) == {"billing", "Orders-DB"}
    assert await names(client, tokens.acme, q="%_") == ["100%_literal"]


async def test_cursor_pages_through_every_row_once_in_name_then_id_order(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    expected = []
    for index in range(17):
        name = f"db-{index % 6:02d}"  # repeated names: the id breaks the tie
        expected.append((name, await seed.connection(name)))
    expected.sort()

    seen: list[tuple[str, str]] = []
    params: dict[str, Any] = {"limit": 4}
    for _page in range(10):
        body = await get_json(client, "/api/connections", tokens.acme, **params)
        assert len(body["items"]) <= 4
        seen += [(item["name"], item["id"]) for item in body["items"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]

    assert seen == expected


async def test_a_row_added_behind_the_cursor_is_not_repeated_or_skipped_ahead(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    for name in ("a", "c", "e", "g"):
        await seed.connection(name)
    first = await get_json(client, "/api/connections", tokens.acme, limit=2)
    await seed.connection("b")  # behind the cursor
    await seed.connection("f")  # ahead of it

    rest = await names(client, tokens.acme, limit=50, cursor=first["next_cursor"])

    assert [item["name"] for item in first["items"]] == ["a", "c"]
    assert rest == ["e", "f", "g"]


async def test_cursor_keeps_the_filters_of_the_request(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    for index in range(5):
        await seed.connection(f"pg-{index}", kind="postgres")
        await seed.connection(f"rd-{index}", kind="redis")
    first = await get_json(client, "/api/connections", tokens.acme, kind="redis", limit=3)

    rest = await names(client, tokens.acme, kind="redis", cursor=first["next_cursor"])

    assert [item["name"] for item in first["items"]] + rest == [f"rd-{i}" for i in range(5)]


async def test_get_shows_secret_field_names_and_version_with_a_strong_etag(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    connection_id = await seed.connection(secret_fields=["password", "api_key"], version=7)

    response = await client.get(f"/api/connections/{connection_id}", headers=bearer(tokens.acme))
    body = await response.json()

    assert response.status == 200
    assert body["id"] == connection_id
    assert body["version"] == 7
    assert body["secret_fields"] == ["api_key", "password"]
    assert body["secrets_version"] == 1
    assert "secrets" not in body
    assert response.headers["ETag"] == f'"{connection_id}.v7"'


async def test_get_answers_304_when_if_none_match_holds_the_current_etag(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    connection_id = await seed.connection(version=3)
    path = f"/api/connections/{connection_id}"
    etag = (await client.get(path, headers=bearer(tokens.acme))).headers["ETag"]

    for condition in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        headers = {**bearer(tokens.acme), "If-None-Match": condition}
        cached = await client.get(path, headers=headers)
        assert cached.status == 304, condition
        assert cached.headers["ETag"] == etag
        assert await cached.read() == b""

    stale = await client.get(path, headers={**bearer(tokens.acme), "If-None-Match": '"x.v2"'})
    assert stale.status == 200


async def test_get_accepts_an_uppercase_uuid(client: ApiClient, seed: Seed, tokens: Tokens) -> None:
    connection_id = await seed.connection()
    path = f"/api/connections/{connection_id.upper()}"

    response = await client.get(path, headers=bearer(tokens.acme))

    assert response.status == 200
    assert (await response.json())["id"] == connection_id


async def test_another_tenants_connection_is_a_404_identical_to_a_missing_one(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    theirs = await seed.connection(tenant="globex")
    await seed.history(theirs, tenant="globex")
    missing = str(uuid.uuid4())

    answers = []
    for connection_id in (theirs, missing):
        for suffix in ("", "/logs"):
            path = f"/api/connections/{connection_id}{suffix}"
            response = await client.get(path, headers=bearer(tokens.acme))
            answers.append((response.status, await response.json()))

    assert {status for status, _ in answers} == {404}
    assert answers[0] == answers[2]
    assert answers[1] == answers[3]


async def test_a_deleted_connection_is_a_404(client: ApiClient, seed: Seed, tokens: Tokens) -> None:
    connection_id = await seed.connection(deleted=True)

    response = await client.get(f"/api/connections/{connection_id}", headers=bearer(tokens.acme))

    assert response.status == 404


async def test_another_tenants_rows_match_no_list_filter(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    await seed.connection("secret-project", tenant="globex", kind="s3", tags=["prod"])

    for filters in ({}, {"kind": "s3"}, {"tag": "prod"}, {"q": "secret"}, {"status": "unknown"}):
        assert await names(client, tokens.acme, **filters) == [], filters
    assert await names(client, tokens.globex, q="secret") == ["secret-project"]


async def test_logs_list_the_connections_events_oldest_first_in_pages(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    connection_id = await seed.connection()
    other = await seed.connection("other")
    await seed.event(other, 1, "ConnectionCreated", {"name": "other"})
    await seed.history(connection_id)
    path = f"/api/connections/{connection_id}/logs"

    first = await get_json(client, path, tokens.acme, limit=3)
    second = await get_json(client, path, tokens.acme, limit=3, after=first["next_after"])

    assert [e["version"] for e in first["items"]] == [1, 2, 3]
    assert first["has_more"] is True
    assert [e["version"] for e in second["items"]] == [4]
    assert second == {**second, "has_more": False, "next_after": 4}
    assert {e["stream_id"] for e in first["items"] + second["items"]} == {connection_id}
    assert [e["type"] for e in first["items"]] == [
        "ConnectionCreated",
        "ConnectionUpdated",
        "SecretsRotated",
    ]


async def test_logs_reduce_event_secrets_to_version_and_field_names(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    connection_id = await seed.connection()
    await seed.history(connection_id)

    body = await get_json(client, f"/api/connections/{connection_id}/logs", tokens.acme)

    secrets = [e["data"]["secrets"] for e in body["items"] if "secrets" in e["data"]]
    assert secrets == [
        {"secrets_version": 1, "field_names": ["password"]},
        {"secrets_version": 2, "field_names": ["password"]},
        {"secrets_version": 3, "field_names": ["password"]},
    ]
    assert body["items"][3]["data"]["nested"] == [{}]
