"""The read path's cost and failures: one statement per warm read, concurrent reads
coalesced per tenant, a connection the server dropped answered with a 503 and healed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from api.clients import ApiClient, Tokens, bearer
from api.manual_clock import counted_statements
from connmgr.api import create_app
from connmgr.api.app_state import READER
from connmgr.api.connection_reads import ConnectionReader, RecentViews
from connmgr.api.problems import database_unavailable
from connmgr.schemas.settings import Settings
from connmgr.storage.database import autocommit_reads, create_engine, migrate, write_transaction
from connmgr.storage.reads.views import ConnectionView
from connmgr.storage.tables import connections
from connmgr.storage.tokens import issue_token
from support.databases import drop_server_connections
from support.fixture_types import NewPostgresUrl
from support.seeds import Seed


async def test_a_get_by_id_with_a_known_token_runs_one_statement(
    client: ApiClient, seed: Seed, tokens: Tokens, engine: AsyncEngine
) -> None:
    path = f"/api/connections/{await seed.connection()}"
    assert (await client.get(path, headers=bearer(tokens.acme))).status == 200

    versions = client.app[READER].versions
    sent = versions.sent if versions else 0
    with counted_statements(engine) as statements:
        response = await client.get(path, headers=bearer(tokens.acme))

    assert response.status == 200
    if versions is None:  # SQLite: the version read goes through SQLAlchemy
        assert len(statements) == 1
    else:  # PostgreSQL: on the driver's own connection, without a pool checkout
        assert (len(statements), versions.sent - sent) == (0, 1)


async def test_concurrent_reads_share_one_statement_per_tenant(
    engine: AsyncEngine, seed: Seed
) -> None:
    ours = [await seed.connection(f"db-{index}") for index in range(4)]
    theirs = await seed.connection("theirs", tenant="globex")
    reader = ConnectionReader(autocommit_reads(engine))
    asks = [("acme", cid) for cid in [*ours, ours[0], theirs]]
    asks += [("globex", theirs), ("globex", ours[1])]

    with counted_statements(engine) as statements:
        views = await asyncio.gather(*(reader.get(tenant, cid) for tenant, cid in asks))

    found = [None if view is None else (view.tenant, view.id) for view in views]
    expected = [("acme", cid) for cid in [*ours, ours[0]]] + [None, ("globex", theirs), None]
    assert found == expected
    assert len(statements) == 2


async def test_a_round_is_split_into_batches_of_at_most_max_batch_ids(
    engine: AsyncEngine, seed: Seed
) -> None:
    ids = [await seed.connection(f"db-{index}") for index in range(5)]
    reader = ConnectionReader(engine, max_batch=2)

    with counted_statements(engine) as statements:
        views = await asyncio.gather(*(reader.get("acme", cid) for cid in ids))

    assert [view.id for view in views if view is not None] == ids
    assert len(statements) == 3


async def test_a_failed_statement_fails_every_read_of_its_batch(database_url: str) -> None:
    empty = create_engine(database_url)  # no schema: the statement fails in the driver
    reader = ConnectionReader(empty)
    try:
        asks = (reader.get("acme", str(uuid.uuid4())) for _ in range(3))
        results = await asyncio.gather(*asks, return_exceptions=True)
    finally:
        await empty.dispose()

    assert all(isinstance(result, DBAPIError) for result in results)
    assert not any(database_unavailable(result) for result in results)  # a 500, not a 503


@dataclass(frozen=True)
class OwnEngineApi:
    """An API that opened its own engine (no pre-ping), on a seeded PostgreSQL database."""

    client: ApiClient
    database: str
    path: str
    unread_path: str
    """A connection no request has read yet (its read goes through SQLAlchemy's pool)."""
    headers: dict[str, str]


@pytest.fixture
async def own_engine_api(fresh_pg_url: NewPostgresUrl) -> AsyncIterator[OwnEngineApi]:
    url = await fresh_pg_url()
    setup = create_engine(url)
    try:
        await migrate(setup)
        connection_id, unread_id = await Seed(setup).connection(), await Seed(setup).connection()
        token = await issue_token(setup, "reader", "acme", ["read"])
    finally:
        await setup.dispose()
    app = create_app(Settings(database_url=url))
    async with TestClient(TestServer(app)) as client:
        path, unread_path = f"/api/connections/{connection_id}", f"/api/connections/{unread_id}"
        yield OwnEngineApi(client, url.rsplit("/", 1)[1], path, unread_path, bearer(token))


@pytest.mark.parametrize("view", ["kept", "unread"])
async def test_a_dropped_database_connection_is_a_503_problem_then_heals(
    own_engine_api: OwnEngineApi, view: str
) -> None:
    """A kept view's version read goes on the driver's connections (``live_versions``),
    an unread connection's row through SQLAlchemy's pool: both heal the same way."""
    api = own_engine_api
    for _ in range(2):  # read, then kept: the driver's connection is open too
        assert (await api.client.get(api.path, headers=api.headers)).status == 200
    path = api.path if view == "kept" else api.unread_path

    await drop_server_connections(api.database)
    with capture_logs() as logs:
        dropped = await api.client.get(path, headers=api.headers)
        body = await dropped.json(content_type=None)
    healed = await api.client.get(path, headers=api.headers)

    assert dropped.status == 503
    assert dropped.content_type == "application/problem+json"
    assert dropped.headers["Retry-After"] == "5"
    assert body["detail"] == "The database is not reachable."
    for internal in ("asyncpg", "terminat", "connection was closed", "traceback"):
        assert internal not in str(body).lower()
    assert [(log["event"], log["log_level"]) for log in logs] == [
        ("api.database_unavailable", "warning")
    ]
    assert healed.status == 200


async def test_readyz_stays_ready_when_pooled_connections_were_dropped(
    own_engine_api: OwnEngineApi,
) -> None:
    api = own_engine_api
    assert (await api.client.get("/readyz")).status == 200

    await drop_server_connections(api.database)

    assert (await api.client.get("/readyz")).status == 200


async def test_a_kept_view_is_served_only_while_its_version_is_live(
    engine: AsyncEngine, seed: Seed
) -> None:
    cid = await seed.connection("kept")
    reader = ConnectionReader(engine)
    first = await reader.get("acme", cid)
    async with write_transaction(engine) as connection:
        changed = update(connections).where(connections.c.id == cid)
        await connection.execute(changed.values(version=2, description="v2"))

    second, third = await reader.get("acme", cid), await reader.get("acme", cid)

    assert first is not None
    assert (first.version, first.description) == (1, "")
    assert second is not None
    assert (second.version, second.description) == (2, "v2")
    assert third is second  # kept, and still live
    assert await reader.get("globex", cid) is None


def test_recent_views_keep_the_last_read_at_most_size_and_drop_what_was_not_found() -> None:
    recent = RecentViews(2)
    views = {name: _view(name) for name in ("a", "b", "c")}

    recent.keep(["a", "b"], views)
    recent.keep(["c"], views)  # "a" was read first: it goes
    assert set(recent.among(["a", "b", "c"])) == {"b", "c"}
    recent.keep(["b"], {})  # asked, not found (deleted): forgotten
    assert set(recent.among(["a", "b", "c"])) == {"c"}
    assert len(RecentViews(0).among(["a"])) == 0


def _view(name: str) -> ConnectionView:
    now = datetime.now(UTC)
    return ConnectionView(
        id=name, tenant="acme", name=name, kind="redis", template=None, config={}, auth={},
        secret_fields=[], secrets_version=None, health_check={}, tags=[], description="",
        status="unknown", version=1, created_at=now, updated_at=now,
    )  # fmt: skip


def test_a_kept_views_json_is_made_once_and_follows_its_version() -> None:
    recent = RecentViews(4)
    first = _view("a")
    recent.keep(["a"], {"a": first})

    body = recent.body(first)
    assert json.loads(body)["version"] == 1
    assert recent.body(first) is body  # serialised once
    second = first.model_copy(update={"version": 2})
    recent.keep(["a"], {"a": second})
    assert json.loads(recent.body(second))["version"] == 2
    assert json.loads(recent.body(first))["version"] == 1  # no longer kept: made afresh


async def test_a_round_of_more_tenants_than_driver_connections_reads_the_rest_through_the_pool(
    engine: AsyncEngine, seed: Seed
) -> None:
    tenants = ["acme", "globex", "initech"]
    asks = [(tenant, await seed.connection(tenant=tenant)) for tenant in tenants]
    reader = ConnectionReader(autocommit_reads(engine))
    await asyncio.gather(*(reader.get(tenant, cid) for tenant, cid in asks))  # now kept
    sent = reader.versions.sent if reader.versions else 0

    try:
        with counted_statements(engine) as statements:
            views = await asyncio.gather(*(reader.get(tenant, cid) for tenant, cid in asks))
    finally:
        await reader.close()

    assert [(view.tenant, view.id) for view in views if view is not None] == asks
    if reader.versions is None:  # SQLite: every read through SQLAlchemy
        assert len(statements) == 3
    else:  # two on the driver's connections, the third not queued behind them
        assert (reader.versions.sent - sent, len(statements)) == (2, 1)
