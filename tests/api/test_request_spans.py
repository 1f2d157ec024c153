"""API requests are spans (``api.request_spans``): named by the route's name, never its path.

Next to the positive control (a read is a ``SERVER`` span, child of a valid
``traceparent``), what a caller controls must not leak into the span: the id in the
path, the query, the token, another tenant's id, a malformed ``traceparent``.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.trace import SpanKind

from api.clients import ApiClient, Tokens, bearer
from support.seeds import Seed
from support.tracing import recorded_spans

SENDER: Final = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_a_read_is_a_server_span_named_by_its_route_child_of_the_callers_trace(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    connection_id = await seed.connection()
    headers = {**bearer(tokens.acme), "traceparent": SENDER}
    with recorded_spans() as spans:
        response = await client.get(f"/api/connections/{connection_id}", headers=headers)
        assert response.status == 200
    (span,) = spans.get_finished_spans()

    assert span.name == "GET get_connection"
    assert span.kind is SpanKind.SERVER
    assert span.parent is not None
    assert span.parent.span_id == int(SENDER.split("-")[2], 16)
    assert span.context is not None
    assert span.context.trace_id == int(SENDER.split("-")[1], 16)
    assert dict(span.attributes or {}) == {
        "http.route": "get_connection",
        "http.request.method": "GET",
        "http.response.status_code": 200,
    }


async def test_nothing_the_caller_sends_leaks_into_the_span(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    """Another tenant's id (a 404), a query, the token and a malformed traceparent."""
    theirs = await seed.connection(tenant="globex")
    malformed = f"{SENDER}-Injected"  # an extra field (aiohttp refuses CR LF itself)
    with recorded_spans() as spans:
        response = await client.get(
            f"/api/connections/{theirs}?probe=leak-marker-7",
            headers={**bearer(tokens.acme), "traceparent": malformed, "tracestate": "a=b"},
        )
        assert response.status == 404
        unmatched = await client.get("/no/such/path-marker-9", headers=bearer(tokens.acme))
        assert unmatched.status == 404
    first, second = spans.get_finished_spans()

    assert first.parent is None  # the malformed traceparent was dropped: a fresh root
    assert (first.name, second.name) == ("GET get_connection", "GET unmatched")
    text = repr([(s.name, dict(s.attributes or {}), s.events) for s in (first, second)])
    for leak in (theirs, "leak-marker-7", "marker-9", tokens.acme, "a=b", "Injected"):
        assert leak not in text
