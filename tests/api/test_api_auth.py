"""Bearer tokens: 401 without a valid one, 403 without the scope, tenants kept apart."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.clients import ApiClient, Tokens, bearer, get_json
from api.manual_clock import ManualClock
from connmgr.api.problems import FORBIDDEN, UNAUTHORIZED
from connmgr.api.token_cache import TOKEN_CACHE_TTL_S
from connmgr.storage.tables import api_tokens
from connmgr.storage.tokens import hash_token, issue_token, revoke_token
from support.seeds import Seed

PROTECTED = ("/api/connections", "/api/events")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer cm_not-a-real-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "cm_no-scheme"},
    ],
    ids=["missing", "unknown", "empty", "basic", "no-scheme"],
)
async def test_no_valid_bearer_token_is_a_401_problem_with_a_challenge(
    client: ApiClient, headers: dict[str, str]
) -> None:
    for path in PROTECTED:
        response = await client.get(path, headers=headers)
        body = await response.json(content_type=None)

        assert response.status == 401
        assert response.content_type == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="connmgr"')
        assert body["status"] == 401
        assert body["title"] == "Unauthorized"


async def test_a_revoked_token_is_a_401_once_its_cached_grant_expires(
    client: ApiClient, tokens: Tokens, engine: AsyncEngine, clock: ManualClock
) -> None:
    assert (await client.get("/api/connections", headers=bearer(tokens.acme))).status == 200

    assert await revoke_token(engine, tokens.acme)

    # Documented: the grant is cached for TOKEN_CACHE_TTL_S after its lookup.
    clock.advance(TOKEN_CACHE_TTL_S - 0.5)
    assert (await client.get("/api/connections", headers=bearer(tokens.acme))).status == 200
    clock.advance(0.5)
    response = await client.get("/api/connections", headers=bearer(tokens.acme))
    assert response.status == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


async def test_a_token_revoked_before_its_first_use_is_refused_at_once(
    client: ApiClient, tokens: Tokens, engine: AsyncEngine
) -> None:
    assert await revoke_token(engine, tokens.globex)

    assert (await client.get("/api/connections", headers=bearer(tokens.globex))).status == 401


async def test_a_token_without_the_routes_scope_is_a_403_problem(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    connection_id = await seed.connection()
    events_routes = ("/api/events", f"/api/connections/{connection_id}/logs")
    connection_routes = ("/api/connections", f"/api/connections/{connection_id}")

    for token, paths in (
        (tokens.connections_only, events_routes),
        (tokens.events_only, connection_routes),
    ):
        for path in paths:
            response = await client.get(path, headers=bearer(token))
            body = await response.json(content_type=None)
            assert response.status == 403, path
            assert response.content_type == "application/problem+json"
            assert body["status"] == 403
            assert "insufficient_scope" in response.headers["WWW-Authenticate"]


async def test_each_scope_opens_its_own_routes(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    connection_id = await seed.connection()

    for path in ("/api/connections", f"/api/connections/{connection_id}"):
        assert (await client.get(path, headers=bearer(tokens.connections_only))).status == 200
    assert (await client.get("/api/events", headers=bearer(tokens.events_only))).status == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/api/openapi.json", "/api/asyncapi.json"])
async def test_operational_routes_need_no_token(client: ApiClient, path: str) -> None:
    assert (await client.get(path)).status == 200


async def test_metrics_need_an_operator_token(client: ApiClient, tokens: Tokens) -> None:
    assert (await client.get("/metrics", headers=bearer(tokens.metrics))).status == 200
    assert (await client.get("/metrics")).status == 401
    for tenant_token in (tokens.acme, tokens.connections_only, tokens.events_only):
        assert (await client.get("/metrics", headers=bearer(tenant_token))).status == 403


async def test_a_tenant_token_stored_with_metrics_read_still_gets_403(
    client: ApiClient, engine: AsyncEngine
) -> None:
    """A row from before operator tokens (tenant + metrics:read) grants no metrics."""
    token = await issue_token(engine, "old-scraper", "acme", ["read"])
    await engine_set_scopes(engine, token, ["metrics:read", "connections:read"])

    assert (await client.get("/api/connections", headers=bearer(token))).status == 200
    assert (await client.get("/metrics", headers=bearer(token))).status == 403


@pytest.mark.parametrize("path", [*PROTECTED, "/api/connections/stats"])
async def test_an_operator_token_reads_nothing_of_any_tenant(
    client: ApiClient, tokens: Tokens, path: str
) -> None:
    assert (await client.get(path, headers=bearer(tokens.acme))).status == 200
    assert (await client.get(path, headers=bearer(tokens.metrics))).status == 403


@pytest.mark.parametrize(
    ("header", "detail", "challenge"),
    [
        (
            None,
            "This route needs an Authorization: Bearer token.",
            'Bearer realm="connmgr"',
        ),
        (
            "Basic YWRtaW46YWRtaW4=",
            "The Authorization header must be: Bearer <token>.",
            'Bearer realm="connmgr", error="invalid_request"',
        ),
        (
            "Bearer    ",
            "The Authorization header must be: Bearer <token>.",
            'Bearer realm="connmgr", error="invalid_request"',
        ),
        (
            "Bearer cm_not-a-real-token",
            "The bearer token is not valid.",
            'Bearer realm="connmgr", error="invalid_token"',
        ),
    ],
    ids=["missing", "other-scheme", "blank-token", "unknown-token"],
)
async def test_each_401_names_its_reason_in_the_detail_and_the_challenge(
    client: ApiClient, header: str | None, detail: str, challenge: str
) -> None:
    """RFC 6750 section 3: no credentials get a bare challenge, a malformed header
    ``invalid_request``, a token we do not know ``invalid_token`` (README "Read API")."""
    headers = {} if header is None else {"Authorization": header}

    response = await client.get("/api/connections", headers=headers)
    body = await response.json(content_type=None)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert (body["title"], body["status"], body["detail"]) == ("Unauthorized", 401, detail)
    assert body["type"] == UNAUTHORIZED


async def test_a_403_names_the_missing_scope_in_the_detail_and_the_challenge(
    client: ApiClient, tokens: Tokens
) -> None:
    response = await client.get("/api/events", headers=bearer(tokens.connections_only))
    body = await response.json(content_type=None)

    assert response.status == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="connmgr", error="insufficient_scope", scope="events:read"'
    )
    assert body["type"] == FORBIDDEN
    assert (body["title"], body["status"], body["detail"]) == (
        "Forbidden",
        403,
        "The token lacks the scope this route needs: events:read.",
    )


@pytest.mark.parametrize("template", ["bearer {}", "BEARER {}", "Bearer   {}  "])
async def test_the_scheme_is_case_insensitive_and_spaces_around_the_token_do_not_matter(
    client: ApiClient, tokens: Tokens, template: str
) -> None:
    """RFC 6750 section 2.1 / RFC 9110 section 11.1: the scheme name is case-insensitive."""
    headers = {"Authorization": template.format(tokens.acme)}

    assert (await client.get("/api/connections", headers=headers)).status == 200


async def test_a_valid_token_of_one_tenant_never_opens_another_tenants_connection(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    """README "Read API": another tenant's connection is a 404, like a missing one."""
    theirs = await seed.connection("globex-db", tenant="globex")
    ours = await seed.connection("acme-db", tenant="acme")

    own = await client.get(f"/api/connections/{ours}", headers=bearer(tokens.acme))
    foreign = await client.get(f"/api/connections/{theirs}", headers=bearer(tokens.acme))
    listed = await get_json(client, "/api/connections", tokens.acme)

    assert own.status == 200
    assert foreign.status == 404
    assert theirs not in json.dumps(listed)
    assert ours in json.dumps(listed)


async def engine_set_scopes(engine: AsyncEngine, token: str, scopes: list[str]) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            api_tokens.update()
            .where(api_tokens.c.token_hash == hash_token(token))
            .values(scopes=scopes)
        )
