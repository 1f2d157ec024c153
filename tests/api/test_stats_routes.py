"""The health routes and gauges on known rows: shapes, figures, tenancy, problems.

Samples, roll-ups, connections and events are inserted directly (no prober runs).
Figures over windows ending *now* use samples placed minutes or days before the
test's own ``now``, far from any window edge.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.clients import ApiClient, Tokens, bearer, get_json
from connmgr.storage.database import write_transaction
from connmgr.storage.rollups import bucket_start
from connmgr.storage.tables import sample_rollups
from support.health_events import HealthEvents
from support.samples import T0, SampleBuilder, store
from support.seeds import Seed

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
STATUSES = ("unknown", "healthy", "degraded", "down", "flapping", "suspended")
SUMMARY = "/api/connections/health/summary"
ALERTS = "/api/connections/health/alerts"
STATS = "/api/connections/stats"
DAY_1, DAY_2, DAY_3 = (f"2026-03-0{day}T00:00:00Z" for day in (1, 2, 3))


def checks(connection_id: str) -> str:
    return f"/api/connections/{connection_id}/checks"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def rollup(
    engine: AsyncEngine, connection_id: str, resolution: str, start: datetime, **counts: int
) -> None:
    """One bucket of tenant acme (``count``, ``failures`` given), latencies p50/p95/p99/max
    of 10/20/30/40 ms."""
    row = {
        "connection_id": connection_id, "resolution": resolution, "bucket_start": start,
        "tenant": "acme", "count": 1, "failures": 0, **counts, "latency_p50_ms": 10.0,
        "latency_p95_ms": 20.0, "latency_p99_ms": 30.0, "latency_max_ms": 40.0,
    }  # fmt: skip
    async with write_transaction(engine) as connection:
        await connection.execute(sample_rollups.insert().values(**row))


@pytest.fixture
def health(seed: Seed) -> HealthEvents:
    return HealthEvents(seed)


# --- summary ---------------------------------------------------------------------------


async def test_summary_counts_every_status_and_lists_the_latest_changes(
    client: ApiClient, seed: Seed, tokens: Tokens, health: HealthEvents
) -> None:
    orders = await seed.connection("orders", status="healthy")
    await seed.connection("billing", status="down")
    await seed.connection("cache", kind="redis", status="healthy")
    theirs = await seed.connection("theirs", tenant="globex", status="flapping")
    await health.changed(orders, "unknown", "down", T0)
    await health.changed(orders, "down", "healthy", T0 + MINUTE)
    await health.changed(theirs, "unknown", "flapping", T0 + MINUTE, tenant="globex")

    body = await get_json(client, SUMMARY, tokens.acme, changes="1")

    assert body["total"] == 3
    assert body["by_status"] == {s: {"healthy": 2, "down": 1}.get(s, 0) for s in STATUSES}
    assert list(body["by_status"]) == list(STATUSES)
    [change] = body["recent_changes"]
    assert change == {
        "connection_id": orders,
        "connection_name": "orders",
        "previous": "down",
        "status": "healthy",
        "reason": "now healthy",
        "outcome": "ok",
        "at": change["at"],
    }
    assert moment(change["at"]) == T0 + MINUTE


async def test_summary_of_a_tenant_without_connections_is_all_zeros(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    await seed.connection("orders", status="healthy")

    body = await get_json(client, SUMMARY, tokens.globex)

    assert body == {"total": 0, "by_status": dict.fromkeys(STATUSES, 0), "recent_changes": []}


# --- alerts ----------------------------------------------------------------------------


async def test_alerts_list_open_first_then_resolved_with_their_figures(
    client: ApiClient, seed: Seed, tokens: Tokens, health: HealthEvents
) -> None:
    orders = await seed.connection("orders")
    now = datetime.now(UTC)
    old = await health.raised(orders, now - 3 * HOUR)
    await health.resolved(orders, old, now - 3 * HOUR, now - 2 * HOUR)
    current = await health.raised(orders, now - HOUR)

    body = await get_json(client, ALERTS, tokens.acme)

    opened, closed = body["items"]
    assert (opened["alert_id"], opened["state"], opened["resolved_at"]) == (current, "open", None)
    assert 3600 <= opened["open_s"] < 3600 + 300
    assert closed == {
        "alert_id": old,
        "connection_id": orders,
        "connection_name": "orders",
        "state": "resolved",
        "reason": "3 consecutive failures",
        "outcome": "timeout",
        "raised_at": closed["raised_at"],
        "resolved_at": closed["resolved_at"],
        "open_s": 3600.0,
    }
    assert moment(closed["resolved_at"]) - moment(closed["raised_at"]) == HOUR
    assert body["next_cursor"] is None


async def test_alerts_filter_by_state_and_connection_and_page_by_cursor(
    client: ApiClient, seed: Seed, tokens: Tokens, health: HealthEvents
) -> None:
    orders, cache = await seed.connection("orders"), await seed.connection("cache")
    done = await health.raised(orders, T0)
    await health.resolved(orders, done, T0, T0 + MINUTE)
    first = await health.raised(orders, T0 + 2 * MINUTE)
    second = await health.raised(cache, T0 + 3 * MINUTE)

    open_only = await get_json(client, ALERTS, tokens.acme, state="open", limit="1")
    rest = await get_json(
        client, ALERTS, tokens.acme, state="open", cursor=open_only["next_cursor"]
    )
    resolved = await get_json(client, ALERTS, tokens.acme, state="resolved")
    of_orders = await get_json(client, ALERTS, tokens.acme, connection_id=orders)

    assert [a["alert_id"] for a in open_only["items"] + rest["items"]] == [second, first]
    assert rest["next_cursor"] is None
    assert [a["alert_id"] for a in resolved["items"]] == [done]
    assert [a["alert_id"] for a in of_orders["items"]] == [first, done]


async def test_another_tenants_alerts_are_invisible(
    client: ApiClient, seed: Seed, tokens: Tokens, health: HealthEvents
) -> None:
    theirs = await seed.connection("theirs", tenant="globex")
    await health.raised(theirs, T0, tenant="globex")

    everything = await get_json(client, ALERTS, tokens.acme)
    filtered = await get_json(client, ALERTS, tokens.acme, connection_id=theirs)

    assert everything["items"] == filtered["items"] == []
    assert len((await get_json(client, ALERTS, tokens.globex))["items"]) == 1


# --- checks ----------------------------------------------------------------------------


async def test_raw_checks_are_the_newest_samples_first(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    orders = await seed.connection("orders")
    build = SampleBuilder()
    await store(engine, build.spread(T0, [1.0, 2.0, 3.0], MINUTE, connection_id=orders))

    body = await get_json(client, checks(orders), tokens.acme, limit="2")
    since = await get_json(client, checks(orders), tokens.acme, since=iso(T0 + 2 * MINUTE))

    assert (body["connection_id"], body["window"], body["rollups"]) == (orders, "raw", [])
    assert [s["latency_ms"] for s in body["samples"]] == [3.0, 2.0]
    sample = body["samples"][0]
    fields = {"check_id", "connection_id", "checked_at", "outcome", "latency_ms", "phases"}
    assert sample.keys() == fields
    assert (moment(sample["checked_at"]), sample["phases"]) == (T0 + 2 * MINUTE, {"connect": 1.5})
    assert [s["latency_ms"] for s in since["samples"]] == [3.0]


async def test_rollup_checks_are_the_buckets_in_the_range_oldest_first(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    orders = await seed.connection("orders")
    for offset in (0, 1, 5):
        await rollup(engine, orders, "minute", T0 + offset * MINUTE, count=6, failures=offset)
    await rollup(engine, orders, "hour", T0, count=60)

    until = iso(T0 + 5 * MINUTE)
    body = await get_json(
        client, checks(orders), tokens.acme, window="minute", since=iso(T0), until=until
    )

    assert (body["window"], body["samples"]) == ("minute", [])
    assert (moment(body["since"]), moment(body["until"])) == (T0, T0 + 5 * MINUTE)
    assert [(moment(r["bucket_start"]), r["failures"]) for r in body["rollups"]] == [
        (T0, 0),
        (T0 + MINUTE, 1),
    ]
    first = body["rollups"][0]
    assert first == {
        "connection_id": orders, "resolution": "minute", "bucket_start": first["bucket_start"],
        "count": 6, "failures": 0, "latency_p50_ms": 10.0, "latency_p95_ms": 20.0,
        "latency_p99_ms": 30.0, "latency_max_ms": 40.0,
    }  # fmt: skip


async def test_hour_checks_default_to_the_last_day(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    orders = await seed.connection("orders")
    hour = bucket_start(datetime.now(UTC), HOUR)
    for back in (2, 5, 30):
        await rollup(engine, orders, "hour", hour - back * HOUR, count=back)

    body = await get_json(client, checks(orders), tokens.acme, window="hour")

    assert [r["count"] for r in body["rollups"]] == [5, 2]
    assert moment(body["until"]) - moment(body["since"]) == DAY


async def test_raw_checks_take_until_as_the_end_of_their_range(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    orders = await seed.connection("orders")
    await store(
        engine, SampleBuilder().spread(T0, [1.0, 2.0, 3.0, 4.0], MINUTE, connection_id=orders)
    )

    body = await get_json(
        client, checks(orders), tokens.acme, since=iso(T0), until=iso(T0 + 3 * MINUTE), limit="2"
    )

    assert [s["latency_ms"] for s in body["samples"]] == [3.0, 2.0]
    assert (moment(body["since"]), moment(body["until"])) == (T0, T0 + 3 * MINUTE)


async def test_a_rollup_limit_keeps_the_newest_buckets_oldest_first(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    orders = await seed.connection("orders")
    for offset in range(4):
        await rollup(engine, orders, "minute", T0 + offset * MINUTE, count=offset + 1)

    body = await get_json(
        client, checks(orders), tokens.acme, window="minute", since=iso(T0),
        until=iso(T0 + HOUR), limit="2",
    )  # fmt: skip

    assert [r["count"] for r in body["rollups"]] == [3, 4]


async def test_a_range_that_ends_before_it_starts_is_empty(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    orders = await seed.connection("orders")
    await store(engine, [SampleBuilder().at(T0 + DAY, connection_id=orders)])
    await rollup(engine, orders, "minute", T0 + DAY)

    for window in ("raw", "minute", "hour"):
        body = await get_json(
            client, checks(orders), tokens.acme, window=window, since=DAY_3, until=DAY_2
        )

        assert (body["samples"], body["rollups"]) == ([], []), window


async def test_a_rollup_range_longer_than_allowed_starts_later_and_says_so(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    orders = await seed.connection("orders")
    until = datetime.fromisoformat(DAY_3)
    await rollup(engine, orders, "minute", until - 2 * DAY)  # before the longest range
    await rollup(engine, orders, "minute", until - HOUR)

    body = await get_json(
        client, checks(orders), tokens.acme, window="minute", since=DAY_1, until=DAY_3
    )

    assert (moment(body["since"]), moment(body["until"])) == (until - DAY, until)
    assert [moment(r["bucket_start"]) for r in body["rollups"]] == [until - HOUR]


@pytest.mark.parametrize(
    "params",
    [
        {"window": "minute", "until": "0001-01-01T00:00:00Z"},
        {"window": "hour", "since": "0001-01-01T00:00:00+01:00"},
        {"until": "9999-12-31T23:59:59-23:59"},
        {"window": "hour", "since": "9999-12-31T23:59:59Z"},
        {"window": "minute", "until": "2016-12-31t23:59:60z"},  # a leap second, lower case
    ],
)
async def test_moments_at_the_ends_of_the_calendar_are_answered(
    client: ApiClient, seed: Seed, tokens: Tokens, params: dict[str, str]
) -> None:
    orders = await seed.connection("orders")

    body = await get_json(client, checks(orders), tokens.acme, **params)

    assert (body["samples"], body["rollups"]) == ([], [])


async def test_checks_of_another_tenants_or_an_unknown_connection_are_404(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    theirs = await seed.connection("theirs", tenant="globex")
    await store(engine, [SampleBuilder().at(T0, connection_id=theirs, tenant="globex")])

    for identifier in (theirs, str(uuid.uuid4())):
        response = await client.get(checks(identifier), headers=bearer(tokens.acme))
        body = await response.json(content_type=None)

        assert response.status == 404
        assert response.content_type == "application/problem+json"
        assert body["detail"] == "No such connection."


# --- stats -----------------------------------------------------------------------------


async def seed_latencies(engine: AsyncEngine, seed: Seed, now: datetime) -> tuple[str, str]:
    """orders: 10, 20 ms ok and 30 ms timeout in the last hour, 40 ms 3 h and 50 ms 3 days
    ago; billing: one 100 ms failure 10 min ago; globex: a sample that must count nowhere."""
    orders = await seed.connection("orders", status="healthy")
    billing = await seed.connection("billing", status="down")
    cache = await seed.connection("cache", kind="redis", status="healthy")
    theirs = await seed.connection("theirs", tenant="globex", status="down")
    build = SampleBuilder()
    await store(engine, [
        build.at(now - 10 * MINUTE, 10.0, connection_id=orders),
        build.at(now - 20 * MINUTE, 20.0, connection_id=orders),
        build.at(now - 30 * MINUTE, 30.0, connection_id=orders, outcome="timeout"),
        build.at(now - 3 * HOUR, 40.0, connection_id=orders),
        build.at(now - 3 * DAY, 50.0, connection_id=orders),
        build.at(now - 10 * MINUTE, 100.0, connection_id=billing, outcome="unreachable"),
        build.at(now - 10 * MINUTE, 9999.0, connection_id=theirs, tenant="globex"),
    ])  # fmt: skip
    assert cache
    return orders, billing


def figures(window: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("count", "failures", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
    return tuple(window[key] for key in keys)


async def test_stats_count_by_kind_and_status_and_give_figures_per_window(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    await seed_latencies(engine, seed, datetime.now(UTC))

    body = await get_json(client, STATS, tokens.acme)

    assert (body["connection_id"], body["total"]) == (None, 3)
    assert body["by_kind"] == {"postgres": 2, "redis": 1}
    assert body["by_status"] == {s: {"healthy": 2, "down": 1}.get(s, 0) for s in STATUSES}
    assert body["by_kind_and_status"] == [
        {"kind": "postgres", "status": "down", "connections": 1},
        {"kind": "postgres", "status": "healthy", "connections": 1},
        {"kind": "redis", "status": "healthy", "connections": 1},
    ]
    windows = body["windows"]
    assert list(windows) == ["1h", "24h", "7d", "30d"]
    assert figures(windows["1h"]) == (4, 2, 20.0, 100.0, 100.0)
    assert windows["1h"]["success_rate"] == 0.5
    assert windows["1h"]["uptime_percent"] == pytest.approx(50.0)
    assert figures(windows["24h"]) == (5, 2, 30.0, 100.0, 100.0)
    assert figures(windows["30d"]) == figures(windows["7d"]) == (6, 2, 30.0, 100.0, 100.0)
    theirs = (await get_json(client, STATS, tokens.globex, window="1h"))["windows"]["1h"]
    assert figures(theirs) == (1, 0, 9999.0, 9999.0, 9999.0)


async def test_stats_of_one_connection_and_one_window(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    orders, _ = await seed_latencies(engine, seed, datetime.now(UTC))

    body = await get_json(client, STATS, tokens.acme, connection_id=orders, window="24h")

    assert (body["connection_id"], body["total"], body["by_kind"]) == (orders, 1, {"postgres": 1})
    assert list(body["windows"]) == ["24h"]
    day = body["windows"]["24h"]
    assert figures(day) == (4, 1, 20.0, 40.0, 40.0)
    assert day["success_rate"] == day["uptime_percent"] / 100 == 0.75
    latest = body["latest_check"]
    assert (latest["connection_id"], latest["latency_ms"], latest["outcome"]) == (
        orders,
        10.0,
        "ok",
    )


async def test_the_latest_check_is_given_for_one_connection_only_and_null_before_any(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    await seed_latencies(engine, seed, datetime.now(UTC))
    quiet = await seed.connection("quiet")

    fleet = await get_json(client, STATS, tokens.acme)
    unchecked = await get_json(client, STATS, tokens.acme, connection_id=quiet)

    assert fleet["latest_check"] is None  # no connection named: no one connection's check
    assert (unchecked["connection_id"], unchecked["latest_check"]) == (quiet, None)


async def test_stats_without_checks_count_zero_and_have_no_rates(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    await seed.connection("quiet")

    body = await get_json(client, STATS, tokens.acme)

    assert body["total"] == 1
    for window in body["windows"].values():
        assert (window["count"], window["success_rate"], window["uptime_percent"]) == (
            0,
            None,
            None,
        )
        assert figures(window)[2:] == (None, None, None)


async def test_stats_of_another_tenants_connection_are_404(
    client: ApiClient, engine: AsyncEngine, seed: Seed, tokens: Tokens
) -> None:
    theirs = await seed.connection("theirs", tenant="globex")

    response = await client.get(
        STATS, params={"connection_id": theirs}, headers=bearer(tokens.acme)
    )

    assert response.status == 404
    assert (await response.json(content_type=None))["detail"] == "No such connection."


# --- problems, scopes, OpenAPI ---------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        (SUMMARY, {"changes": "0"}, "changes"),
        (SUMMARY, {"changes": "101"}, "changes"),
        (ALERTS, {"state": "closed"}, "state"),
        (ALERTS, {"connection_id": "orders"}, "connection_id"),
        (ALERTS, {"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        (ALERTS, {"limit": "0"}, "limit"),
        (ALERTS, {"severity": "high"}, "severity"),
        ("checks", {"window": "day"}, "window"),
        ("checks", {"limit": "1001"}, "limit"),
        ("checks", {"since": "yesterday"}, "since"),
        ("checks", {"since": "2026-03-02T12:00:00"}, "since"),  # no time zone
        ("checks", {"until": "2026-03-02T12:00"}, "until"),  # no time zone
        ("checks", {"until": "0.5"}, "until"),  # a Unix time is not RFC 3339
        ("checks", {"since": "1772452800"}, "since"),
        ("checks", {"since": "2026-03-02 12:00:00Z"}, "since"),  # a space for the T
        (STATS, {"window": "2h"}, "window"),
        (STATS, {"connection_id": "x"}, "connection_id"),
        (STATS, {"connection_id": "{" + str(uuid.UUID(int=1)) + "}"}, "connection_id"),
        (STATS, {"connection_id": uuid.UUID(int=1).hex}, "connection_id"),  # no hyphens
        (ALERTS, {"cursor": "2:15"}, "cursor"),
        (ALERTS, {"cursor": "0:" + "9" * 19}, "cursor"),  # past a signed 64-bit position
    ],
)
async def test_a_bad_parameter_is_a_400_problem_naming_the_field(
    client: ApiClient, seed: Seed, tokens: Tokens, route: str, params: dict[str, str], field: str
) -> None:
    path = checks(await seed.connection("orders")) if route == "checks" else route

    response = await client.get(path, params=params, headers=bearer(tokens.acme))
    body = await response.json(content_type=None)

    assert (response.status, response.content_type) == (400, "application/problem+json")
    assert body["type"] == "urn:connmgr:problem:invalid-parameters"
    assert [error["field"] for error in body["errors"]] == [field]
    assert params[field] not in str(body["errors"])


async def test_health_routes_need_a_token_with_the_connections_scope(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    orders = await seed.connection("orders")

    for path in (SUMMARY, ALERTS, STATS, checks(orders)):
        anonymous = await client.get(path)
        events_only = await client.get(path, headers=bearer(tokens.events_only))
        allowed = await client.get(path, headers=bearer(tokens.connections_only))

        assert (anonymous.status, events_only.status, allowed.status) == (401, 403, 200), path


async def test_openapi_documents_the_health_routes(client: ApiClient) -> None:
    document = await (await client.get("/api/openapi.json")).json()

    paths = document["paths"]
    operations = {
        SUMMARY: ("health_summary", "HealthSummary"),
        ALERTS: ("health_alerts", "AlertPage"),
        STATS: ("connection_stats", "StatsReport"),
        "/api/connections/{id}/checks": ("connection_checks", "CheckHistory"),
    }
    for path, (operation_id, model) in operations.items():
        operation = paths[path]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert operation["operationId"] == operation_id
        assert schema == {"$ref": f"#/components/schemas/{model}"}
        assert model in document["components"]["schemas"]
        assert {"400", "401", "403"} <= operation["responses"].keys()
    checks_parameters = {
        p["name"] for p in paths["/api/connections/{id}/checks"]["get"]["parameters"]
    }
    assert checks_parameters == {"id", "window", "limit", "since", "until"}
    assert "404" in paths["/api/connections/{id}/checks"]["get"]["responses"]
