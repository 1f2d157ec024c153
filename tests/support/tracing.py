"""Spans recorded in memory: the SDK's ``InMemorySpanExporter`` behind a real provider.

``recorded_spans()`` installs an SDK ``TracerProvider`` as the process's global one
for the duration of a ``with`` block and puts the API's globals back afterwards, so
the tests before and after run with no provider (the pass-through the deployment
gets without ``OTEL_*``). The OpenTelemetry API allows one ``set_tracer_provider``
per process; resetting its two globals is how its own test utilities do it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from connmgr.tracing.traceparent import traceparent_of


@contextlib.contextmanager
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _reset_globals()
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        _reset_globals()
        provider.shutdown()


def _reset_globals() -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def traceparent_of_span(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    value = traceparent_of(context)
    assert value is not None
    return value


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.span_id


def trace_id(span: ReadableSpan) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.trace_id
