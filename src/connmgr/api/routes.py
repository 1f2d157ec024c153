"""The route table: what the API serves, who may call it, what it takes and returns.

The router, the auth middleware and the OpenAPI document all read this one table.
"""

from __future__ import annotations

from typing import Final

from connmgr.api import (
    asyncapi,
    chain_checkpoint,
    commands,
    form_schemas,
    handlers,
    live_feed,
    openapi,
    probes,
    scrape,
    stats,
    templates,
)
from connmgr.api.params import ConnectionListQuery, ConnectionLogQuery, EventFeedQuery
from connmgr.api.routing import PATH_ID, Route
from connmgr.api.stats_params import AlertListQuery, ChecksQuery, HealthSummaryQuery, StatsQuery
from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.reads.connection_health import AlertPage
from connmgr.storage.reads.views import ConnectionPage, ConnectionView, EventPage
from connmgr.storage.tokens import SCOPE_CONNECTIONS_READ, SCOPE_EVENTS_READ, SCOPE_METRICS_READ

_CONNECTION: Final = f"/api/connections/{PATH_ID}"

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
        stats.health_summary,
        "Connections by health status (every status, zeros too) and the latest changes.",
        SCOPE_CONNECTIONS_READ,
        query=HealthSummaryQuery,
        response=stats.HealthSummary,
    ),
    Route(
        "GET",
        "/api/connections/health/alerts",
        "health_alerts",
        stats.health_alerts,
        "Alerts: open first, then resolved, newest first (filters, cursor-paged).",
        SCOPE_CONNECTIONS_READ,
        query=AlertListQuery,
        response=AlertPage,
    ),
    Route(
        "GET",
        "/api/connections/stats",
        "connection_stats",
        stats.connection_stats,
        "Counts by kind and status; success rate, uptime and latency over 1h to 30d.",
        SCOPE_CONNECTIONS_READ,
        query=StatsQuery,
        response=stats.StatsReport,
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
        f"{_CONNECTION}/versions/{{n:[1-9][0-9]{{0,9}}}}",
        "connection_version",
        handlers.connection_version,
        "Time travel: the connection exactly as it was at version n, folded from its log.",
        SCOPE_CONNECTIONS_READ,
        response=ConnectionView,
    ),
    Route(
        "GET",
        f"{_CONNECTION}/checks",
        "connection_checks",
        stats.connection_checks,
        "A connection's recent probe samples, or its minute or hour roll-ups.",
        SCOPE_CONNECTIONS_READ,
        query=ChecksQuery,
        response=stats.CheckHistory,
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
    Route(
        "GET",
        f"/api/commands/{PATH_ID}",
        "command_outcome",
        commands.command_outcome,
        "A command's outcome once handled (the Location of a 202 from a write route).",
        SCOPE_CONNECTIONS_READ,
        response=CommandOutcome,
    ),
    Route(
        "GET",
        "/api/audit/checkpoint",
        "audit_checkpoint",
        handlers.audit_checkpoint,
        "The hash chain's last verified checkpoint: up to which position, and when, it held.",
        SCOPE_EVENTS_READ,
        response=chain_checkpoint.ChainCheckpoint,
    ),
    Route(
        "GET",
        "/api/events/stream",
        "event_stream",
        live_feed.event_stream,
        "The tenant's events live (Server-Sent Events; resumable with Last-Event-ID).",
        SCOPE_EVENTS_READ,
        query=live_feed.EventStreamQuery,
        media_type="text/event-stream",
        problems=(429,),
    ),
    Route("GET", "/healthz", "healthz", probes.healthz, "Liveness.", None, response=probes.Health),
    Route(
        "GET",
        "/readyz",
        "readyz",
        probes.readyz,
        "Readiness: the database answers.",
        None,
        response=probes.Health,
        problems=(503,),
    ),
    Route(
        "GET",
        "/metrics",
        "metrics",
        scrape.metrics,
        "Prometheus metrics (every tenant's gauges: needs the metrics:read scope).",
        SCOPE_METRICS_READ,
        media_type="text/plain",
    ),
    Route("GET", "/api/openapi.json", "openapi", openapi.document, "This document.", None),
    Route(
        "GET",
        "/api/schemas/connections",
        "connection_form_schemas",
        form_schemas.document,
        "JSON Schemas of the connection forms: each kind's config, its auth methods and "
        "their secret fields, the payload with the health-check settings (public).",
        None,
    ),
    Route(
        "GET",
        "/api/asyncapi.json",
        "asyncapi",
        asyncapi.document,
        "The AsyncAPI 3.0 document of the bus: commands, replies and events over NATS.",
        None,
    ),
)
