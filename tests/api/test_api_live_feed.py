"""GET /api/events/stream: the tenant's events live as Server-Sent Events.

One log reader per process fans out to every stream; each stream sees its own
tenant's events only, resumes with Last-Event-ID, beats while idle, and a token
holds a bounded number of streams.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from api.clients import ApiClient, Tokens, bearer
from api.manual_clock import ManualClock
from connmgr.api import create_app
from connmgr.api.app_state import STREAMS
from connmgr.api.serving import ProblemAppRunner
from connmgr.api.token_cache import TokenCache
from connmgr.runtime.pools import bound_url
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import revoke_token
from support.seeds import CIPHERTEXT, Seed
from support.waiting import wait_for

PATH = "/api/events/stream"


@pytest.fixture
async def feed_client(
    engine: AsyncEngine, database_url: str, clock: ManualClock
) -> AsyncIterator[ApiClient]:
    settings = Settings(
        database_url=database_url, api_stream_heartbeat_s=0.2, api_streams_per_token=2
    )
    app = create_app(settings, engine=engine, tokens=TokenCache(clock=clock))
    async with TestClient(TestServer(app)) as client:
        yield client


async def frames(
    response: aiohttp.ClientResponse, count: int, *, timeout: float = 10
) -> list[dict[str, Any]]:
    """The next ``count`` frames (events and heartbeats), read with a deadline."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] = {}

    async def read() -> None:
        while len(found) < count:
            line = (await response.content.readline()).decode()
            if not line:
                raise AssertionError("the stream ended")
            line = line.rstrip("\n")
            if line.startswith(":"):
                found.append({"heartbeat": True})
            elif line == "":
                if current.get("data"):
                    found.append({**current, "data": json.loads(current["data"])})
                current.clear()
            else:
                name, _, value = line.partition(": ")
                current[name] = value

    await asyncio.wait_for(read(), timeout)
    return found


async def events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events, skipping heartbeats."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        found += [f for f in await frames(response, 1) if "heartbeat" not in f]
    return found


async def test_a_stream_delivers_new_events_live_with_position_ids_and_no_secret(
    feed_client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    mine = await seed.connection()
    async with feed_client.get(PATH, headers=bearer(tokens.acme)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        positions = await seed.history(mine)
        received = await events(response, 4)

    assert [int(frame["id"]) for frame in received] == positions
    assert [frame["event"] for frame in received] == [
        "ConnectionCreated",
        "ConnectionUpdated",
        "SecretsRotated",
        "ConnectionTested",
    ]
    assert received[0]["data"]["data"]["secrets"] == {
        "field_names": ["password"],
        "secrets_version": 1,
    }
    assert CIPHERTEXT not in json.dumps(received)


async def test_a_stream_never_shows_another_tenants_event(
    feed_client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    mine = await seed.connection()
    theirs = await seed.connection(tenant="globex")
    async with (
        feed_client.get(PATH, headers=bearer(tokens.acme)) as acme,
        feed_client.get(PATH, headers=bearer(tokens.globex)) as globex,
    ):
        await seed.history(theirs, tenant="globex")
        last = await seed.rejection(mine)
        (only,) = await events(acme, 1)
        globex_seen = await events(globex, 4)

    assert (int(only["id"]), only["data"]["type"]) == (last, "CommandRejected")
    assert mine not in json.dumps(globex_seen)
    assert all(frame["data"]["stream_id"] == theirs for frame in globex_seen)


async def test_last_event_id_replays_what_a_reconnect_missed(
    feed_client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    mine = await seed.connection()
    first, *missed = await seed.history(mine)
    await seed.history(await seed.connection(tenant="globex"), tenant="globex")

    headers = {**bearer(tokens.acme), "Last-Event-ID": str(first)}
    async with feed_client.get(PATH, headers=headers) as response:
        replayed = await events(response, 3)
        live = await seed.rejection(mine)
        (after,) = await events(response, 1)

    assert [int(frame["id"]) for frame in replayed] == missed
    assert int(after["id"]) == live


async def test_an_idle_stream_beats(feed_client: ApiClient, tokens: Tokens) -> None:
    async with feed_client.get(PATH, headers=bearer(tokens.acme)) as response:
        beats = await frames(response, 2, timeout=5)
    assert beats == [{"heartbeat": True}, {"heartbeat": True}]


async def test_a_client_that_goes_away_ends_its_stream_quietly(
    engine: AsyncEngine, database_url: str, clock: ManualClock, tokens: Tokens
) -> None:
    # The runner `connmgr api` serves with: its handlers are not cancelled when a client
    # leaves (the test server's are), so the stream learns it at its next write.
    settings = Settings(database_url=database_url, api_stream_heartbeat_s=0.2)
    app = create_app(settings, engine=engine, tokens=TokenCache(clock=clock))
    runner = ProblemAppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"{bound_url(runner)}{PATH}"
    fanout = app[STREAMS].fanout
    try:
        with capture_logs() as logs:
            async with aiohttp.ClientSession(headers=bearer(tokens.acme)) as session:
                response = await session.get(url)
                await frames(response, 1)
                response.close()  # the browser tab is closed: the next heartbeat finds no one
            await wait_for(lambda: fanout.open_streams() == 0, timeout=5)
    finally:
        await runner.cleanup()
    # Its slot is free again, and nothing was reported: a client leaving is not a fault
    # (its write's ConnectionResetError once read as "the database is unavailable").
    assert [log["event"] for log in logs if log["log_level"] in ("warning", "error")] == []


async def test_a_token_holds_a_bounded_number_of_streams(
    feed_client: ApiClient, tokens: Tokens
) -> None:
    async with (
        feed_client.get(PATH, headers=bearer(tokens.acme)) as one,
        feed_client.get(PATH, headers=bearer(tokens.acme)) as two,
    ):
        assert (one.status, two.status) == (200, 200)
        third = await feed_client.get(PATH, headers=bearer(tokens.acme))
        other_token = await feed_client.get(PATH, headers=bearer(tokens.events_only))
        problem = await third.json()
        assert third.status == 429
        assert problem["type"] == "urn:connmgr:problem:too-many-streams"
        assert "Retry-After" in third.headers
        assert other_token.status == 200
        other_token.close()
    fanout = feed_client.app[STREAMS].fanout
    await wait_for(lambda: fanout.open_streams() == 0, timeout=5)
    again = await feed_client.get(PATH, headers=bearer(tokens.acme))
    assert again.status == 200
    again.close()


async def test_a_revoked_tokens_stream_ends(
    feed_client: ApiClient, engine: AsyncEngine, tokens: Tokens, clock: ManualClock
) -> None:
    async with feed_client.get(PATH, headers=bearer(tokens.acme)) as response:
        await frames(response, 1)
        await revoke_token(engine, tokens.acme)
        clock.advance(3600)  # past the token cache's TTL

        async def ended() -> bool:
            return (await response.content.readline()) == b""

        assert await wait_for(ended, timeout=5)


async def test_a_connections_only_token_cannot_open_the_stream(
    feed_client: ApiClient, tokens: Tokens
) -> None:
    response = await feed_client.get(PATH, headers=bearer(tokens.connections_only))
    assert response.status == 403
    assert (await feed_client.get(PATH)).status == 401
