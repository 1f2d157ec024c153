"""The ``/metrics`` scrape: the fleet gauges read now, then the whole registry.

Only an operator token (``metrics:read``) gets here: the bearer-token middleware runs
first, so a refused scrape reads nothing. The gauges are aggregates over every
tenant, labelled by kind, status and outcome only (``connection_gauges``); the request
metrics carry only route names, methods and status codes (``metrics``). Expose the
route to the scraper's network only.
"""

from __future__ import annotations

from aiohttp import web

from connmgr.api.app_state import ENGINE, METRICS


async def metrics(request: web.Request) -> web.StreamResponse:
    """Read the connection gauges for this scrape, then serve the whole registry."""
    api_metrics = request.app[METRICS]
    await api_metrics.connections.refresh(request.app[ENGINE])
    return api_metrics.exposition()
