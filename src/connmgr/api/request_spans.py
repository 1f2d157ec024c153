"""One span per API request, named by the route's *name*, never its raw path.

The span (kind ``SERVER``) is a child of the request's ``traceparent`` header when
that is exactly the W3C version-00 form (``connmgr.tracing``), else a root. Its
attributes are bounded like the request metrics' labels (``metrics``): the route
name (``unmatched`` for anything the router did not match), the method
(``OTHER`` beyond the standard ones) and the status code. No path, id, query,
tenant or token is ever an attribute. Without a tracer provider the middleware
does nothing but call the handler.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from connmgr.api.routing import Handler
from connmgr.schemas.bus.headers import TRACEPARENT_HEADER
from connmgr.tracing.spans import recording, start_span
from connmgr.tracing.traceparent import valid_traceparent

_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SERVER_ERROR: Final = 500


def request_span_middleware() -> Middleware:
    """Trace every request (outermost middleware, so the span covers the others)."""

    @web.middleware
    async def traced(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not recording():
            return await handler(request)
        route = request.match_info.route.name or "unmatched"
        method = request.method if request.method in _METHODS else "OTHER"
        parent = valid_traceparent(request.headers.get(TRACEPARENT_HEADER))
        attributes = {"http.route": route, "http.request.method": method}
        span = start_span(f"{method} {route}", parent, SpanKind.SERVER, attributes)
        with trace.use_span(span, end_on_exit=True, record_exception=False):
            try:
                response = await handler(request)
            except web.HTTPException as error:
                _status(span, error.status)
                raise
            except Exception:
                _status(span, _SERVER_ERROR)
                raise
            _status(span, response.status)
            return response

    return traced


def _status(span: trace.Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= _SERVER_ERROR:
        span.set_status(Status(StatusCode.ERROR))
