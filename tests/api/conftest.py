"""API fixtures: a migrated database of each backend, seeded rows, tokens, an HTTP client.

``database_url`` (tests/conftest.py) parametrizes every test over SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from api.clients import ApiClient, Tokens
from api.manual_clock import ManualClock
from connmgr.api import create_app
from connmgr.api.token_cache import TokenCache
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import (
    SCOPE_CONNECTIONS_READ,
    SCOPE_EVENTS_READ,
    issue_operator_token,
    issue_token,
)


@pytest.fixture
async def tokens(engine: AsyncEngine) -> Tokens:
    return Tokens(
        acme=await issue_token(engine, "acme-reader", "acme", ["read"]),
        globex=await issue_token(engine, "globex-reader", "globex", ["read"]),
        connections_only=await issue_token(engine, "c", "acme", [SCOPE_CONNECTIONS_READ]),
        events_only=await issue_token(engine, "e", "acme", [SCOPE_EVENTS_READ]),
        metrics=await issue_operator_token(engine, "scraper"),
    )


@pytest.fixture
def clock() -> ManualClock:
    """The clock of the client's token cache: grants expire only when a test moves it."""
    return ManualClock()


@pytest.fixture
async def client(
    engine: AsyncEngine, database_url: str, clock: ManualClock
) -> AsyncIterator[ApiClient]:
    tokens = TokenCache(clock=clock)
    app = create_app(Settings(database_url=database_url), engine=engine, tokens=tokens)
    async with TestClient(TestServer(app)) as client:
        yield client
