"""Prometheus metrics of the API, in a registry of its own per application.

Request metrics: labels are bounded: the route *name* (``unmatched`` for anything the
router did not match), the method (``OTHER`` beyond the standard ones) and the status
code. No path, id, tenant or token ever becomes a label of these.

The fleet gauges (connections by kind and status, their latency histogram, recent
checks) are ``connection_gauges``: the ``/metrics`` handler (``scrape``) reads them
before it serves the registry.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from connmgr.api.connection_gauges import MAX_AGE_S, ConnectionGauges
from connmgr.api.routing import Handler

_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CLIENT_CLOSED: Final = 499
_LABELS: Final = ("route", "method", "status")


class ApiMetrics:
    """The request counter, latency histogram and fleet gauges of one application."""

    def __init__(self, gauges_max_age_s: float = MAX_AGE_S) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "connmgr_api_requests",
            "HTTP requests handled by the API.",
            _LABELS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "connmgr_api_request_duration_seconds",
            "Time to handle an API request.",
            _LABELS,
            registry=self.registry,
        )
        self.connections = ConnectionGauges(gauges_max_age_s)
        self.registry.register(self.connections)
        # Labelled children by label values: ``labels()`` costs several times the update.
        # Bounded like the series themselves: route names x methods x status codes.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "OTHER"
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            labels = (route, method, str(status))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def metrics_middleware(metrics: ApiMetrics) -> Middleware:
    """Count and time every request, by the status finally sent (outermost middleware)."""

    @web.middleware
    async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        except asyncio.CancelledError:
            status = _CLIENT_CLOSED
            raise
        finally:
            route = request.match_info.route.name or "unmatched"
            metrics.observe(route, request.method, status, time.perf_counter() - started)

    return measure
