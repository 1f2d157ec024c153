"""Handlers of the statistics routes: health summary, alerts, a connection's checks, stats.

Each reads the tenant from the token's grant and nothing else. A connection of
another tenant (or a deleted one) is answered like one that does not exist: 404 for
``/{id}/checks`` and ``/stats?connection_id=``; the alerts filter simply finds none.
Figures and their approximations: ``storage.reads.sample_history`` (samples,
roll-ups), ``storage.reads.sample_stats`` (window stats) and
``storage.reads.connection_health`` (counts, changes, alerts).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from connmgr.api.app_state import ENGINE, GRANT, READER
from connmgr.api.params import connection_id, parse_query
from connmgr.api.problems import not_found
from connmgr.api.stats_params import (
    RAW_LIMIT,
    STATS_WINDOWS,
    AlertListQuery,
    ChecksQuery,
    HealthSummaryQuery,
    StatsQuery,
    Window,
    rollup_range,
)
from connmgr.schemas.health import HealthStatus
from connmgr.storage.reads import connection_health, sample_history, sample_stats
from connmgr.storage.reads.connection_health import StatusChange, StatusCount
from connmgr.storage.reads.sample_history import RollupView, SampleView
from connmgr.storage.reads.sample_stats import ConnectionStats
from connmgr.storage.rollups import Resolution

_PRIVATE_HEADERS = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HealthSummary(_View):
    """``by_status`` has every health status, zeros included."""

    total: int
    by_status: dict[str, int]
    recent_changes: list[StatusChange]


class CheckHistory(_View):
    """``samples`` (newest first) for ``raw``, else ``rollups`` (oldest bucket first)."""

    connection_id: str
    window: Window
    since: datetime | None
    until: datetime | None = None
    samples: list[SampleView] = []
    rollups: list[RollupView] = []


class KindStatusCount(_View):
    kind: str
    status: str
    connections: int


class StatsReport(_View):
    """Live connections counted; ``windows`` keyed ``1h``, ``24h``, ``7d``, ``30d``.

    With ``connection_id``: ``latest_check`` is that connection's newest sample (None
    before its first check), the figure ``/metrics`` keeps only as a fleet histogram."""

    connection_id: str | None
    total: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    by_kind_and_status: list[KindStatusCount]
    windows: dict[str, ConnectionStats]
    latest_check: SampleView | None = None


async def health_summary(request: web.Request) -> web.StreamResponse:
    query = parse_query(request, HealthSummaryQuery)
    engine, tenant = request.app[ENGINE], request[GRANT].tenant
    by_status = _by_status(await connection_health.status_counts(engine, tenant))
    changes = await connection_health.recent_status_changes(engine, tenant, query.changes)
    summary = HealthSummary(
        total=sum(by_status.values()), by_status=by_status, recent_changes=changes
    )
    return _json(summary)


async def health_alerts(request: web.Request) -> web.StreamResponse:
    query = parse_query(request, AlertListQuery)
    page = await connection_health.list_alerts(
        request.app[ENGINE],
        request[GRANT].tenant,
        datetime.now(UTC),
        state=query.state,
        connection_id=query.connection_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    return _json(page)


async def connection_checks(request: web.Request) -> web.StreamResponse:
    """Raw samples (the ``limit`` newest in ``[since, until)``) or roll-ups in that range."""
    query = parse_query(request, ChecksQuery)
    identifier = await _visible(request, connection_id(request))
    engine, tenant = request.app[ENGINE], request[GRANT].tenant
    if query.window == "raw":
        since, until, limit = query.since, query.until, query.limit or RAW_LIMIT
        found = await sample_history.recent_samples(
            engine, tenant, identifier, since=since, until=until, limit=limit
        )
        history = CheckHistory(
            connection_id=identifier, window="raw", since=since, until=until, samples=found
        )
        return _json(history)
    resolution: Resolution = "minute" if query.window == "minute" else "hour"
    since, until = rollup_range(query, datetime.now(UTC))
    buckets = await sample_history.rollups(
        engine,
        tenant,
        identifier,
        resolution=resolution,
        since=since,
        until=until,
        limit=query.limit,
    )
    history = CheckHistory(
        connection_id=identifier, window=resolution, since=since, until=until, rollups=buckets
    )
    return _json(history)


async def connection_stats(request: web.Request) -> web.StreamResponse:
    """Counts of live connections; success rate, uptime and latency per window."""
    query = parse_query(request, StatsQuery)
    engine, tenant = request.app[ENGINE], request[GRANT].tenant
    identifier = None
    if query.connection_id is not None:
        identifier = await _visible(request, query.connection_id)
    counts = await connection_health.status_counts(engine, tenant, identifier)
    now = datetime.now(UTC)
    names = list(STATS_WINDOWS) if query.window is None else [query.window]
    windows: dict[str, ConnectionStats] = {
        name: await sample_stats.connection_stats(
            engine, tenant, identifier, STATS_WINDOWS[name], now
        )
        for name in names
    }
    latest = None
    if identifier is not None:
        newest = await sample_history.recent_samples(engine, tenant, identifier, limit=1)
        latest = newest[0] if newest else None
    return _json(_report(identifier, counts, windows, latest))


def _report(
    identifier: str | None,
    counts: list[StatusCount],
    windows: dict[str, ConnectionStats],
    latest: SampleView | None,
) -> StatsReport:
    by_kind: dict[str, int] = {}
    for count in counts:
        by_kind[count.kind] = by_kind.get(count.kind, 0) + count.connections
    cells = [
        KindStatusCount(kind=c.kind, status=c.status, connections=c.connections) for c in counts
    ]
    return StatsReport(
        connection_id=identifier,
        total=sum(by_kind.values()),
        by_kind=dict(sorted(by_kind.items())),
        by_status=_by_status(counts),
        by_kind_and_status=sorted(cells, key=lambda cell: (cell.kind, cell.status)),
        windows=windows,
        latest_check=latest,
    )


def _by_status(counts: Iterable[StatusCount]) -> dict[str, int]:
    """Every health status (zeros included), then any other status stored, in order."""
    result = {status.value: 0 for status in HealthStatus}
    for count in counts:
        result[count.status] = result.get(count.status, 0) + count.connections
    return result


async def _visible(request: web.Request, identifier: str) -> str:
    """The id of the tenant's live connection; 404 problem when absent or not theirs."""
    view = await request.app[READER].get(request[GRANT].tenant, identifier)
    if view is None:
        raise not_found("connection")
    return view.id


def _json(model: BaseModel) -> web.Response:
    response = web.Response(text=model.model_dump_json(), content_type="application/json")
    response.headers.update(_PRIVATE_HEADERS)
    return response
