"""GET /api/events: the tenant's part of the global log, paged by position."""

from __future__ import annotations

from api.clients import ApiClient, Tokens, get_json
from support.seeds import Seed


async def test_the_feed_lists_the_tenants_events_in_log_order_in_pages(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    mine = await seed.connection()
    theirs = await seed.connection(tenant="globex")
    positions = await seed.history(mine)
    await seed.history(theirs, tenant="globex")
    positions.append(await seed.rejection(mine))

    first = await get_json(client, "/api/events", tokens.acme, limit=3)
    rest = await get_json(client, "/api/events", tokens.acme, after=first["next_after"])

    assert [e["position"] for e in first["items"]] == positions[:3]
    assert first["has_more"] is True
    assert [e["position"] for e in rest["items"]] == positions[3:]
    assert rest["has_more"] is False
    assert rest["next_after"] == positions[-1]
    assert rest["items"][-1]["type"] == "CommandRejected"
    assert rest["items"][-1]["data"]["connection_id"] == mine


async def test_the_feed_never_shows_another_tenants_events(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    theirs = await seed.connection(tenant="globex")
    await seed.history(theirs, tenant="globex")
    await seed.rejection(theirs, tenant="globex")

    body = await get_json(client, "/api/events", tokens.acme, limit=200)

    assert body == {"items": [], "next_after": 0, "has_more": False}
    assert theirs not in str(body)


async def test_after_the_last_position_the_feed_is_empty_and_keeps_its_place(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    positions = await seed.history(await seed.connection())

    body = await get_json(client, "/api/events", tokens.acme, after=positions[-1])

    assert body == {"items": [], "next_after": positions[-1], "has_more": False}
