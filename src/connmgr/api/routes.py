"""The route table: what the API serves, who may call it, what it takes and returns.

The router, the auth middleware and the OpenAPI document all read this one table.
"""

from __future__ import annotations

from typing import Final

from connmgr.api import handlers, health, ops, templates
from connmgr.api.health_params import AlertListQuery, ChecksQuery, HealthSummaryQuery, StatsQuery
from connmgr.api.params import ConnectionListQuery, ConnectionLogQuery, EventFeedQuery
from connmgr.api.routing import UUID_PATTERN, Route
from connmgr.storage.health_queries import AlertPage
from connmgr.storage.tokens import SCOPE_CONNECTIONS_READ, SCOPE_EVENTS_READ, SCOPE_METRICS_READ
from connmgr.storage.views import ConnectionPage, ConnectionView, EventPage

_CONNECTION: Final = f"/api/connections/{{id:{UUID_PATTERN}}}"

ROUTES: Final = (
    Route(
        "GET",
        "/api/connections",
        "list_connections",
        handlers.list_connections,
        "List connections (filters, keyset-paged by name).",
        SCOPE_CONNECTIONS_READ,
        query=ConnectionListQuery,
        response=ConnectionPage,
    ),
    Route(
        "GET",
        "/api/connections/templates",
        "list_templates",
        templates.list_templates,
        "The template catalogue (filter by category, search).",
        SCOPE_CONNECTIONS_READ,
        query=templates.TemplateListQuery,
        response=templates.TemplateList,
    ),
    Route(
        "GET",
        "/api/connections/health/summary",
        "health_summary",
        health.health_summary,
        "Connections by health status (every status, zeros too) and the latest changes.",
        SCOPE_CONNECTIONS_READ,
        query=HealthSummaryQuery,
        response=health.HealthSummary,
    ),
    Route(
        "GET",
        "/api/connections/health/alerts",
        "health_alerts",
        health.health_alerts,
        "Alerts: open first, then resolved, newest first (filters, cursor-paged).",
        SCOPE_CONNECTIONS_READ,
        query=AlertListQuery,
        response=AlertPage,
    ),
    Route(
        "GET",
        "/api/connections/stats",
        "connection_stats",
        health.connection_stats,
        "Counts by kind and status; success rate, uptime and latency over 1h to 30d.",
        SCOPE_CONNECTIONS_READ,
        query=StatsQuery,
        response=health.StatsReport,
        problems=(404,),
    ),
    Route(
        "GET",
        _CONNECTION,
        "get_connection",
        handlers.get_connection,
        "One connection: configuration and secret field names, never secret values.",
        SCOPE_CONNECTIONS_READ,
        response=ConnectionView,
        conditional=True,
    ),
    Route(
        "GET",
        f"{_CONNECTION}/logs",
        "connection_logs",
        handlers.connection_logs,
        "A connection's events, oldest first: its audit trail.",
        SCOPE_EVENTS_READ,
        query=ConnectionLogQuery,
        response=EventPage,
    ),
    Route(
        "GET",
        f"{_CONNECTION}/checks",
        "connection_checks",
        health.connection_checks,
        "A connection's recent probe samples, or its minute or hour roll-ups.",
        SCOPE_CONNECTIONS_READ,
        query=ChecksQuery,
        response=health.CheckHistory,
    ),
    Route(
        "GET",
        "/api/events",
        "event_feed",
        handlers.event_feed,
        "The tenant's part of the global event log, in log order.",
        SCOPE_EVENTS_READ,
        query=EventFeedQuery,
        response=EventPage,
    ),
    Route("GET", "/healthz", "healthz", ops.healthz, "Liveness.", None, response=ops.Health),
    Route(
        "GET",
        "/readyz",
        "readyz",
        ops.readyz,
        "Readiness: the database answers.",
        None,
        response=ops.Health,
        problems=(503,),
    ),
    Route(
        "GET",
        "/metrics",
        "metrics",
        ops.metrics,
        "Prometheus metrics (every tenant's gauges: needs the metrics:read scope).",
        SCOPE_METRICS_READ,
        media_type="text/plain",
    ),
    Route("GET", "/api/openapi.json", "openapi", ops.openapi, "This document.", None),
)
