"""Which connections are a tenant's notification channels (``notifier.channels.channel_rows``),
and that finding them reads the tenant's connections only, never every tenant's tags.
Both backends."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.workers.notifier.channels import channel_rows
from support.query_plans import query_plan, recorded_statements
from support.seeds import Seed


async def test_a_tenants_channels_are_its_live_webhook_and_smtp_connections_tagged_notify(
    engine: AsyncEngine, seed: Seed
) -> None:
    hook = await seed.connection("hook", kind="webhook", tags=["notify"])
    mail = await seed.connection("mail", kind="smtp", tags=["team-a", "notify:critical"])
    await seed.connection("untagged", kind="webhook", tags=["team-a"])
    await seed.connection("lookalike", kind="webhook", tags=["notifyx", "notify-all"])
    await seed.connection("database", kind="postgres", tags=["notify"])
    await seed.connection("gone", kind="webhook", tags=["notify"], deleted=True)
    theirs = await seed.connection("theirs", kind="webhook", tags=["notify"], tenant="globex")

    async with engine.connect() as connection:
        ours = await channel_rows(connection, "acme")
        others = await channel_rows(connection, "globex")

    assert sorted((row.id, row.tags) for row in ours) == sorted(
        [(hook, ("notify",)), (mail, ("team-a", "notify:critical"))]
    )
    assert [row.id for row in others] == [theirs]


async def test_channels_are_found_from_the_tenants_connections_on_the_tag_rows_key(
    engine: AsyncEngine, seed: Seed
) -> None:
    await seed.connection("hook", kind="webhook", tags=["notify"])
    with recorded_statements(engine) as executed:
        async with engine.connect() as connection:
            await channel_rows(connection, "acme")
    ((statement, parameters),) = [pair for pair in executed if "connection_tags" in pair[0]]
    plan = await query_plan(engine, statement, parameters, index_if_possible=True)

    if engine.dialect.name == "postgresql":
        assert "Seq Scan on connection_tags" not in plan, plan
        assert "Index Cond: ((connection_id)::text = (connections.id)::text)" in plan, plan
    else:
        assert "SCAN connection_tags" not in plan, plan
        assert "SEARCH connection_tags USING" in plan, plan
        assert "(connection_id=?" in plan, plan
