"""GET /api/audit/checkpoint: up to which position, and when, the global chain held."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from api.clients import ApiClient, Tokens, bearer
from connmgr.api import create_app
from connmgr.api.app_state import CHAIN
from connmgr.api.chain_checkpoint import ChainVerifier
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
    assert seen["whole_chain_at"] is not None
    assert set(seen) == {"verified", "ok", "position", "verified_at", "broken_at", "whole_chain_at"}


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


async def test_a_round_goes_on_from_the_last_verified_position_and_the_whole_walk_comes_due(
    engine: AsyncEngine,
) -> None:
    verifier = ChainVerifier(engine, whole_interval_s=3600)
    await append(engine, "acme", 2)
    first = await verifier.verify_once()
    await append(engine, "globex", 2)
    await tamper(engine, "UPDATE events SET data = '{\"rewritten\": true}' WHERE position = 1")

    onward = await verifier.verify_once()  # the appended events only: position 1 unread
    verifier.whole_interval_s = 0
    whole = await verifier.verify_once()

    assert (first.ok, first.position, first.whole_chain_at) == (True, 2, first.verified_at)
    assert (onward.ok, onward.position, onward.whole_chain_at) == (True, 4, first.whole_chain_at)
    assert (whole.ok, whole.position, whole.broken_at) == (False, 0, 1)
    assert whole.whole_chain_at == first.whole_chain_at  # the whole walk did not hold


async def test_a_round_onward_notices_the_event_it_goes_on_from_was_rewritten(
    engine: AsyncEngine,
) -> None:
    verifier = ChainVerifier(engine, whole_interval_s=3600)
    await append(engine, "acme", 3)
    await verifier.verify_once()
    await tamper(engine, "UPDATE events SET hash = 'forged' WHERE position = 3")

    onward = await verifier.verify_once()
    again = await verifier.verify_once()  # after a break, the whole chain again

    assert (onward.ok, onward.broken_at) == (False, 3)
    assert (again.ok, again.position, again.broken_at) == (False, 2, 3)


async def test_the_api_verifies_at_the_intervals_its_settings_give(
    engine: AsyncEngine, database_url: str
) -> None:
    settings = Settings(
        database_url=database_url,
        api_chain_verify_interval_s=7,
        api_chain_full_verify_interval_s=700,
    )
    async with TestClient(TestServer(create_app(settings, engine=engine))) as client:
        verifier = client.app[CHAIN]
        assert (verifier.interval_s, verifier.whole_interval_s) == (7, 700)
