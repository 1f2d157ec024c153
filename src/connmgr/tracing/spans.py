"""Starting connmgr's spans on the OpenTelemetry API, and what they send on.

A hop's span names its parent explicitly: a message's valid ``traceparent``
(``traceparent.traceparent_in``), else none at all, so a consumer's span is a
fresh root rather than a child of whatever happened to be current (the Producer
names the caller's current span; ``child`` nests work inside a hop). The
``traceparent`` a hop sends on (in an event's metadata, a NATS header, a webhook
request) is that of the span it started.

With no tracer provider installed (``recording`` is False) nothing is started:
``hop`` hands back the incoming ``traceparent`` unchanged (pass-through), so a
deployment that traces only some processes still joins their traces, and the
encryptor's hot path costs one header read per message. Attributes are bounded
codes (kinds, verbs, outcomes, route names): never a host name, an address, a
credential, a config value or a payload (docs/decisions.md, "Traces across NATS
hops").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind
from opentelemetry.util.types import AttributeValue

from connmgr.schemas.bus.headers import TRACEPARENT_HEADER
from connmgr.tracing.traceparent import span_context_of, traceparent_of

TRACER_NAME: Final = "connmgr"
Attributes = Mapping[str, AttributeValue]


def recording() -> bool:
    """True when a process or a test installed a tracer provider."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def parent_context(traceparent: str | None) -> Context:
    """The context whose span is the remote one ``traceparent`` names; empty (a root)
    without one. ``traceparent`` must already be valid."""
    if traceparent is None:
        return Context()
    return trace.set_span_in_context(NonRecordingSpan(span_context_of(traceparent)))


def start_span(
    name: str, parent: str | None, kind: SpanKind, attributes: Attributes | None = None
) -> Span:
    """A span child of ``parent`` (a root without one); the caller ends it."""
    tracer = trace.get_tracer(TRACER_NAME)
    return tracer.start_span(name, parent_context(parent), kind, attributes)


def sent_on(span: Span | None, parent: str | None) -> str | None:
    """What a hop sends on: ``span``'s ``traceparent``, or ``parent`` unchanged without one."""
    if span is None:
        return parent
    return traceparent_of(span.get_span_context())


@contextlib.contextmanager
def hop(
    name: str,
    parent: str | None,
    kind: SpanKind = SpanKind.CONSUMER,
    attributes: Attributes | None = None,
) -> Iterator[str | None]:
    """One hop's span, current inside (``child`` nests under it); yields the
    ``traceparent`` to send on: the span's, or ``parent`` unchanged when not recording
    (then nothing is started or made current)."""
    if not recording():
        yield parent
        return
    span = start_span(name, parent, kind, attributes)
    with trace.use_span(span, end_on_exit=True):
        yield sent_on(span, parent)


@contextlib.contextmanager
def child(
    name: str, kind: SpanKind = SpanKind.INTERNAL, attributes: Attributes | None = None
) -> Iterator[Span | None]:
    """A span child of the current one, current inside; None when not recording or when
    nothing is being traced."""
    current = trace.get_current_span()
    if not recording() or not current.get_span_context().is_valid:
        yield None
        return
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
        yield span


def ended_child(
    parent: Span, name: str, attributes: Attributes, start_ns: int, end_ns: int
) -> None:
    """A child span of ``parent`` for work already measured: it starts and ends at the
    given wall-clock times (nanoseconds)."""
    tracer = trace.get_tracer(TRACER_NAME)
    context = trace.set_span_in_context(parent)
    span = tracer.start_span(name, context, SpanKind.INTERNAL, attributes, start_time=start_ns)
    span.end(end_time=end_ns)


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span; None when nothing is being traced."""
    return traceparent_of(trace.get_current_span().get_span_context())


def put_traceparent(headers: dict[str, str], traceparent: str | None) -> dict[str, str]:
    """``headers`` with ``traceparent`` set when there is one (no ``tracestate``, ever)."""
    if traceparent is not None:
        headers[TRACEPARENT_HEADER] = traceparent
    return headers
