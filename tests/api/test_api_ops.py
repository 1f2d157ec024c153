"""Liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from api.clients import ApiClient, Tokens, bearer
from connmgr.api import create_app
from connmgr.api.console_assets import CONSOLE_ROUTE_NAMES
from connmgr.api.openapi import openapi_document
from connmgr.api.routes import ROUTES
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine
from connmgr.storage.reads.connection_health import ALERT_CURSOR_PATTERN
from connmgr.storage.reads.connection_pages import CURSOR_PATTERN, MAX_CURSOR_LENGTH
from connmgr.storage.reads.paging import UUID_PATTERN
from support.secret_scan import SecretScanner
from support.seeds import Seed

DEAD_DATABASES = (
    "postgresql+asyncpg://postgres@127.0.0.1:1/nothing",
    "sqlite+aiosqlite:////nonexistent-folder/nothing.db",
)


async def test_healthz_and_readyz_answer_ok(client: ApiClient) -> None:
    live = await client.get("/healthz")
    ready = await client.get("/readyz")

    assert (live.status, await live.json()) == (200, {"status": "ok"})
    assert (ready.status, await ready.json()) == (200, {"status": "ready"})


async def test_readyz_is_a_503_problem_when_the_database_is_unreachable() -> None:
    for url in DEAD_DATABASES:
        engine = create_engine(url)
        app = create_app(Settings(database_url=url), engine=engine)
        try:
            async with TestClient(TestServer(app)) as client:
                ready = await client.get("/readyz")
                live = await client.get("/healthz")
                body = await ready.json(content_type=None)
        finally:
            await engine.dispose()

        assert ready.status == 503, url
        assert ready.content_type == "application/problem+json"
        assert body["detail"] == "The database is not reachable."
        assert live.status == 200


async def test_an_app_without_an_engine_opens_and_closes_its_own(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url))

    async with TestClient(TestServer(app)) as client:
        ready = await client.get("/readyz")

    assert ready.status == 200


async def test_metrics_count_requests_by_route_method_and_status(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    await client.get("/api/connections", headers=bearer(tokens.acme))
    await client.get("/api/connections", headers=bearer(tokens.acme))
    await client.get("/api/connections")
    await client.get("/no/such/path/7f3a")

    text = await (await client.get("/metrics", headers=bearer(tokens.metrics))).text()

    ok = 'connmgr_api_requests_total{method="GET",route="list_connections",status="200"} 2.0'
    denied = 'connmgr_api_requests_total{method="GET",route="list_connections",status="401"} 1.0'
    unmatched = 'connmgr_api_requests_total{method="GET",route="unmatched",status="404"} 1.0'
    assert ok in text
    assert denied in text
    assert unmatched in text
    assert "connmgr_api_request_duration_seconds_bucket" in text
    assert "7f3a" not in text
    scanner = SecretScanner()
    scanner.add("acme token", tokens.acme)
    scanner.add("metrics token", tokens.metrics)
    scanner.assert_clean({"metrics": text})


async def test_each_app_has_its_own_metrics_registry(
    engine: Any, database_url: str, tokens: Tokens
) -> None:
    settings = Settings(database_url=database_url)
    first, second = create_app(settings, engine=engine), create_app(settings, engine=engine)

    async with TestClient(TestServer(first)) as one, TestClient(TestServer(second)) as two:
        await one.get("/healthz")
        text = await (await two.get("/metrics", headers=bearer(tokens.metrics))).text()

    assert 'route="healthz"' not in text


async def test_openapi_lists_exactly_the_routes_of_the_router(client: ApiClient) -> None:
    document = await (await client.get("/api/openapi.json")).json()

    served = {
        (route.resource.canonical, route.method.lower())
        for route in client.app.router.routes()
        if route.resource is not None and route.name not in CONSOLE_ROUTE_NAMES
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == served
    assert "/api/connections/{id}" in document["paths"]


async def test_openapi_is_a_3_1_document_with_responses_and_bearer_security(
    client: ApiClient,
) -> None:
    document = await (await client.get("/api/openapi.json")).json()

    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert all(op["responses"] for op in operations)
    connections = document["paths"]["/api/connections"]["get"]
    assert connections["security"] == [{"bearer": ["connections:read"]}]
    assert document["paths"]["/metrics"]["get"]["security"] == [{"bearer": ["metrics:read"]}]
    assert {"401", "403", "400", "200"} <= connections["responses"].keys()
    assert {p["name"] for p in connections["parameters"]} == {
        "kind",
        "status",
        "tag",
        "q",
        "limit",
        "cursor",
    }
    assert document["paths"]["/healthz"]["get"]["security"] == []
    for ref in _refs(document):
        name = ref.removeprefix("#/components/schemas/")
        assert name in document["components"]["schemas"], ref
    assert "Problem" in document["components"]["schemas"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def test_openapi_declares_the_shapes_the_server_enforces(client: ApiClient) -> None:
    document = await (await client.get("/api/openapi.json")).json()

    def parameter(path: str, name: str) -> dict[str, Any]:
        (found,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
        schema: dict[str, Any] = found["schema"]
        return schema

    uuid = f"^{UUID_PATTERN}$"
    for path in ("/api/connections/stats", "/api/connections/health/alerts"):
        assert parameter(path, "connection_id") == {
            "type": "string", "format": "uuid", "pattern": uuid
        }  # fmt: skip
    assert parameter("/api/connections/{id}", "id")["pattern"] == uuid
    cursor = parameter("/api/connections", "cursor")
    assert (cursor["pattern"], cursor["maxLength"]) == (CURSOR_PATTERN, MAX_CURSOR_LENGTH)
    assert parameter("/api/connections/health/alerts", "cursor")["pattern"] == ALERT_CURSOR_PATTERN
    for name in ("q", "status"):
        assert parameter("/api/connections", name)["pattern"] == "^[^\\x00]*$"
    until = parameter("/api/connections/{id}/checks", "until")
    assert until == {"type": "string", "format": "date-time"}
    responses = document["paths"]["/api/connections"]["get"]["responses"]
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]


async def test_the_served_document_is_the_one_built_from_the_route_table(
    client: ApiClient,
) -> None:
    served = await (await client.get("/api/openapi.json")).json()

    assert served == openapi_document(client.app.router, ROUTES)
