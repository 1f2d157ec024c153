"""The fleet gauges of ``/metrics``: aggregates by kind, status and outcome, base units,
no tenant and no connection id in any label, and read only for an operator's scrape."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.clients import ApiClient, Tokens, bearer
from connmgr.api.app_state import METRICS
from support.samples import SampleBuilder, store
from support.secret_scan import SecretScanner
from support.seeds import Seed

MINUTE = timedelta(minutes=1)
LATENCY = "connmgr_connection_latency_seconds"
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(\{(?P<labels>[^}]*)\})? ", re.MULTILINE)
_LABEL_NAME = re.compile(r'(\w+)="')


async def scrape(client: ApiClient, tokens: Tokens) -> str:
    response = await client.get("/metrics", headers=bearer(tokens.metrics))
    assert response.status == 200
    return await response.text()


def label_names(text: str) -> set[str]:
    return {
        name
        for match in _SAMPLE.finditer(text)
        for name in _LABEL_NAME.findall(match["labels"] or "")
    }


async def test_connections_are_counted_by_kind_and_status_over_every_tenant(
    client: ApiClient, tokens: Tokens, seed: Seed
) -> None:
    await seed.connection("orders", status="healthy")
    await seed.connection("billing", status="down")
    await seed.connection("theirs", tenant="globex", status="healthy")
    await seed.connection("gone", status="down", deleted=True)

    text = await scrape(client, tokens)

    assert 'connmgr_connections{kind="postgres",status="healthy"} 2.0' in text
    assert 'connmgr_connections{kind="postgres",status="down"} 1.0' in text


async def test_the_latency_histogram_is_in_seconds_over_the_newest_check_of_each_connection(
    client: ApiClient, tokens: Tokens, seed: Seed
) -> None:
    orders = await seed.connection("orders", status="healthy")
    billing = await seed.connection("billing", status="down")
    theirs = await seed.connection("theirs", tenant="globex", kind="redis")
    await seed.connection("fresh")  # never checked: not in the histogram
    await seed.last_check(orders, 12.5)  # its newest: 0.0125 s
    await seed.last_check(billing, 70.0)
    await seed.last_check(theirs, 3.0, tenant="globex")

    text = await scrape(client, tokens)

    assert f"# TYPE {LATENCY} histogram" in text
    assert f'{LATENCY}_bucket{{kind="postgres",le="0.01"}} 0.0' in text
    assert f'{LATENCY}_bucket{{kind="postgres",le="0.025"}} 1.0' in text
    assert f'{LATENCY}_bucket{{kind="postgres",le="0.1"}} 2.0' in text
    assert f'{LATENCY}_bucket{{kind="postgres",le="+Inf"}} 2.0' in text
    assert f'{LATENCY}_gcount{{kind="postgres"}} 2.0' in text
    assert f'{LATENCY}_gsum{{kind="postgres"}} 0.0825' in text
    assert f'{LATENCY}_bucket{{kind="redis",le="0.005"}} 1.0' in text
    assert "_ms" not in text  # base units only


async def test_checks_of_the_last_minute_are_counted_by_outcome(
    client: ApiClient, tokens: Tokens, engine: AsyncEngine, seed: Seed
) -> None:
    orders = await seed.connection("orders", status="healthy")
    now = datetime.now(UTC)
    build = SampleBuilder()
    await store(engine, [build.at(now, connection_id=orders) for _ in range(3)])
    await store(engine, [build.at(now, connection_id=orders, outcome="timeout")])
    await store(engine, [build.at(now - 10 * MINUTE, connection_id=orders)])  # too old
    await store(engine, [build.at(now, tenant="globex", connection_id=orders)])

    text = await scrape(client, tokens)

    assert 'connmgr_checks_last_minute{outcome="ok"} 4.0' in text
    assert 'connmgr_checks_last_minute{outcome="timeout"} 1.0' in text


async def test_no_series_names_a_tenant_or_a_connection_and_none_grows_with_them(
    client: ApiClient, tokens: Tokens, engine: AsyncEngine, seed: Seed
) -> None:
    now = datetime.now(UTC)
    build = SampleBuilder()
    ids = []
    for tenant in ("acme", "globex", "initech"):
        for name in ("orders", "billing", "cache"):
            identifier = await seed.connection(f"{tenant}-{name}", tenant=tenant, status="down")
            ids.append(identifier)
            await store(engine, [build.at(now, 20.0, connection_id=identifier, tenant=tenant)])
    await client.get("/api/connections", headers=bearer(tokens.acme))

    text = await scrape(client, tokens)

    assert label_names(text) <= {"kind", "status", "outcome", "le", "route", "method"}
    assert 'connmgr_connections{kind="postgres",status="down"} 9.0' in text
    assert not any(name in text for name in ("acme", "globex", "initech", "orders", "billing"))
    scanner = SecretScanner()
    for identifier in ids:
        scanner.add("connection id", identifier)
    scanner.add("acme token", tokens.acme)
    scanner.add("operator token", tokens.metrics)
    scanner.assert_clean({"metrics": text})


async def test_only_a_scrape_the_token_allows_reads_the_gauges(
    client: ApiClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    gauges = client.app[METRICS].connections
    engines: list[AsyncEngine] = []
    read = gauges.refresh

    async def counted(engine: AsyncEngine) -> None:
        engines.append(engine)
        await read(engine)

    monkeypatch.setattr(gauges, "refresh", counted)

    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers=bearer(tokens.acme))).status == 403
    assert engines == []  # refused before the handler: the fleet is never read for them
    assert (await client.get("/metrics", headers=bearer(tokens.metrics))).status == 200
    assert len(engines) == 1


async def test_a_scrape_whose_database_reads_fail_still_serves_the_request_metrics(
    client: ApiClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(engine: AsyncEngine, bounds_ms: object) -> object:
        raise ConnectionError("password=hunter2 in a driver message")

    monkeypatch.setattr("connmgr.storage.reads.fleet_gauges.newest_latency_histogram", broken)
    await client.get("/healthz")

    text = await scrape(client, tokens)

    assert 'connmgr_api_requests_total{method="GET",route="healthz",status="200"} 1.0' in text
    assert "connmgr_connections{" not in text
    assert "hunter2" not in text
