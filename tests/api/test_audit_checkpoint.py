"""GET /api/audit/checkpoint: up to which position, and when, the global chain held."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from api.clients import ApiClient, Tokens, bearer
from connmgr.api import create_app
from connmgr.schemas.settings import Settings
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent
from support.tampering import tamper
from support.waiting import wait_for

PATH = "/api/audit/checkpoint"


@pytest.fixture
async def audited(engine: AsyncEngine, database_url: str) -> AsyncIterator[ApiClient]:
    settings = Settings(database_url=database_url, api_chain_verify_interval_s=0.1)
    async with TestClient(TestServer(create_app(settings, engine=engine))) as client:
        yield client


async def append(engine: AsyncEngine, tenant: str, count: int) -> None:
    pending = [
        PendingEvent(
            stream_id=f"{tenant}-stream",
            version=version,
            type="HealthStatusChanged",
            tenant=tenant,
            data={"secret_marker": f"{tenant}-data"},
            metadata={"tenant": tenant},
        )
        for version in range(1, count + 1)
    ]
    async with write_transaction(engine) as connection:
        appender = await Appender.begin(connection)
        await appender.append(pending)
        await appender.finish()
        await connection.commit()


async def checkpoint(client: ApiClient, token: str) -> Any:
    response = await client.get(PATH, headers=bearer(token))
    assert response.status == 200
    return await response.json()


async def test_the_checkpoint_covers_every_tenants_events_and_shows_none_of_them(
    audited: ApiClient, engine: AsyncEngine, tokens: Tokens
) -> None:
    await append(engine, "globex", 2)
    await append(engine, "acme", 1)

    async def held() -> Any:
        seen = await checkpoint(audited, tokens.acme)
        return seen if seen["verified"] and seen["position"] == 3 else None

    seen = await wait_for(held, timeout=10)

    assert seen["ok"] is True
    assert seen["verified_at"] is not None
    assert seen["broken_at"] is None
    assert "globex" not in str(seen)
    assert set(seen) == {"verified", "ok", "position", "verified_at", "broken_at"}


async def test_a_rewritten_event_breaks_the_checkpoint_where_it_was_changed(
    audited: ApiClient, engine: AsyncEngine, tokens: Tokens
) -> None:
    await append(engine, "acme", 3)
    await tamper(engine, "UPDATE events SET data = '{\"rewritten\": true}' WHERE position = 2")

    async def broken() -> Any:
        seen = await checkpoint(audited, tokens.acme)
        return seen if seen["verified"] else None

    seen = await wait_for(broken, timeout=10)
    assert (seen["ok"], seen["position"], seen["broken_at"]) == (False, 1, 2)


async def test_the_checkpoint_needs_events_read(audited: ApiClient, tokens: Tokens) -> None:
    assert (await audited.get(PATH, headers=bearer(tokens.connections_only))).status == 403
    assert (await audited.get(PATH)).status == 401
