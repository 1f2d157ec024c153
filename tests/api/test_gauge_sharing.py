"""Scrapes share the fleet gauges' reads (``connection_gauges``): one read in flight serves
every scrape that arrives meanwhile, a successful read serves scrapes for ``max_age_s``,
a failed one is never kept."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.clients import ApiClient, Tokens, bearer
from api.manual_clock import ManualClock
from connmgr.api.app_state import METRICS
from connmgr.api.connection_gauges import MAX_AGE_S, ConnectionGauges
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine
from support.seeds import Seed


def exposed(gauges: ConnectionGauges) -> str:
    registry = CollectorRegistry()
    registry.register(gauges)
    return generate_latest(registry).decode()


def healthy_count(gauges: ConnectionGauges) -> str:
    for line in exposed(gauges).splitlines():
        if line.startswith('connmgr_connections{kind="postgres",status="healthy"}'):
            return line.rsplit(" ", 1)[1]
    return "absent"


async def test_a_read_serves_the_scrapes_within_max_age_then_the_next_reads_again(
    engine: AsyncEngine, seed: Seed
) -> None:
    clock = ManualClock()
    gauges = ConnectionGauges(max_age_s=5.0, clock=clock)
    await seed.connection("orders", status="healthy")
    await gauges.refresh(engine)
    await seed.connection("billing", status="healthy")

    clock.advance(4.9)
    await gauges.refresh(engine)
    within = healthy_count(gauges)
    clock.advance(0.1)
    await gauges.refresh(engine)

    assert within == "1.0"  # the first read, as it was
    assert healthy_count(gauges) == "2.0"
    assert gauges.reads == 2


async def test_scrapes_that_arrive_during_a_read_wait_for_it_instead_of_reading(
    engine: AsyncEngine, seed: Seed
) -> None:
    await seed.connection("orders", status="healthy")
    gauges = ConnectionGauges(max_age_s=0)  # nothing is kept: only the read in flight

    await asyncio.gather(*(gauges.refresh(engine) for _ in range(5)))

    assert gauges.reads == 1
    assert healthy_count(gauges) == "1.0"
    await gauges.refresh(engine)  # the read ended: a later scrape reads
    assert gauges.reads == 2


async def test_a_scraper_that_goes_away_does_not_cancel_the_read_others_wait_for(
    engine: AsyncEngine, seed: Seed
) -> None:
    await seed.connection("orders", status="healthy")
    gauges = ConnectionGauges()
    leaving = asyncio.create_task(gauges.refresh(engine))
    await asyncio.sleep(0)  # it started the read
    staying = asyncio.create_task(gauges.refresh(engine))
    await asyncio.sleep(0)

    leaving.cancel()
    await staying

    assert leaving.cancelled()
    assert (gauges.reads, healthy_count(gauges)) == (1, "1.0")


async def test_a_failed_read_is_not_kept_the_next_scrape_reads_again(database_url: str) -> None:
    empty = create_engine(database_url)  # no schema: every read fails
    gauges = ConnectionGauges(max_age_s=3600.0)
    try:
        await gauges.refresh(empty)
        await gauges.refresh(empty)
    finally:
        await empty.dispose()

    assert gauges.reads == 2
    assert "connmgr_connections" not in exposed(gauges)


async def test_two_scrapes_of_the_api_read_the_database_once(
    client: ApiClient, tokens: Tokens, seed: Seed
) -> None:
    await seed.connection("orders", status="healthy")
    gauges = client.app[METRICS].connections

    for _ in range(2):
        response = await client.get("/metrics", headers=bearer(tokens.metrics))
        assert response.status == 200
        assert 'connmgr_connections{kind="postgres",status="healthy"} 1.0' in await response.text()

    assert gauges.reads == 1


async def test_a_refused_scrape_neither_reads_nor_joins_a_read(
    client: ApiClient, tokens: Tokens, seed: Seed
) -> None:
    await seed.connection("orders", status="healthy")
    gauges = client.app[METRICS].connections

    for token in (tokens.acme, "cm_not-a-token"):
        response = await client.get("/metrics", headers=bearer(token))
        assert response.status in (401, 403)

    assert gauges.reads == 0


def test_the_settings_default_is_the_gauges_own() -> None:
    assert Settings.model_fields["api_gauges_max_age_s"].default == MAX_AGE_S
