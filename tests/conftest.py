"""Fixtures shared by every test: real services, each on its own throw-away state.

- ``nats_server`` / ``nats_url`` (session): one nats-server from the wheel with
  JetStream on a free port and a temporary store. Shared: give streams, consumers
  and subjects unique names per test, and never stop it; to kill, restart or
  configure a server, start a private one with ``nats_server_factory``.
- ``pg_url`` (session): a fresh PostgreSQL database for the session;
  ``fresh_pg_url`` (function): an async factory of more fresh databases.
- ``sqlite_url`` (function): a SQLite file in the test's ``tmp_path``.
- ``database_url`` (function, parametrized ``sqlite`` / ``postgres``): a fresh,
  empty database per test; the way every storage contract test runs on both.
- ``engine`` (function): an engine on ``database_url``, schema migrated, so on both
  backends; ``seed`` writes projection rows straight into it (``support.seeds``).
- ``mariadb_url`` / ``redis_url`` (session): the machine's servers, once reachable.
- ``leak_channels`` (function): a secret scanner and every log and output channel
  of the test gathered for it (``support.leaks``); a "no secret" test adds its
  secrets and haystacks and ends with ``leak_channels.assert_clean()``.

A missing service skips the test, or fails it under ``CONNMGR_REQUIRE_SERVICES=1``;
the run then ends with one line naming each test so skipped (``support.service_skips``).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.nats_server import NatsServer
from support.databases import migrated_engine, sqlite_url_in, temporary_postgres_database
from support.fixture_types import NewPostgresUrl, StartNatsServer
from support.leaks import LeakChannels
from support.seeds import Seed
from support.services import (
    MARIADB_URL,
    REDIS_URL,
    REQUIRE_SERVICES_ENV,
    require_services,
    services_required,
)

pytest_plugins = ["support.service_skips"]


def pytest_report_header() -> str:
    if services_required():
        return f"services: required ({REQUIRE_SERVICES_ENV}=1), a missing one fails its tests"
    return f"services: optional, a missing one skips its tests (set {REQUIRE_SERVICES_ENV}=1)"


@pytest.fixture(scope="session")
async def nats_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NatsServer]:
    await require_services("nats")
    async with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
async def nats_server_factory(tmp_path: Path) -> AsyncIterator[StartNatsServer]:
    """``await start(**NatsServer options)`` -> a started private server; all stop after."""
    await require_services("nats")
    numbers = itertools.count(1)
    async with AsyncExitStack() as servers:

        async def start(**options: Any) -> NatsServer:
            store = tmp_path / f"nats-{next(numbers)}"
            return await servers.enter_async_context(NatsServer(store, **options))

        yield start


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    await require_services("postgres")
    async with temporary_postgres_database() as url:
        yield url


@pytest.fixture
async def fresh_pg_url() -> AsyncIterator[NewPostgresUrl]:
    """``await fresh_pg_url()`` -> URL of a new empty database, dropped after the test."""
    async with AsyncExitStack() as databases:

        async def create() -> str:
            await require_services("postgres")
            return await databases.enter_async_context(temporary_postgres_database())

        yield create


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return sqlite_url_in(tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, fresh_pg_url: NewPostgresUrl
) -> str:
    if request.param == "sqlite":
        return sqlite_url_in(tmp_path)
    return await fresh_pg_url()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(database_url) as engine:
        yield engine


@pytest.fixture
def seed(engine: AsyncEngine) -> Seed:
    return Seed(engine)


@pytest.fixture(scope="session")
async def mariadb_url() -> str:
    await require_services("mariadb")
    return MARIADB_URL


@pytest.fixture(scope="session")
async def redis_url() -> str:
    await require_services("redis")
    return REDIS_URL


@pytest.fixture
def leak_channels(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> Iterator[LeakChannels]:
    with LeakChannels.opened(caplog, capsys) as channels:
        yield channels
