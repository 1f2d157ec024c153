"""A check's span and one child span per latency phase, derived from its measured timings.

The drivers are not instrumented: a check already measures its phases
(``net.Stopwatch``, ``http_transport.RequestTimer``) as durations and start
offsets, and ``phase_spans`` turns those into child spans of the check's span
(``resolve``, ``connect``, ``tls``, ``auth``, ``query``, in that order) after the
fact, with their measured start and end times. A phase without a measured start
is placed where the previous one ended.

Attributes are the kind, the outcome and the phase name: never a host name, an
address, a credential or a config value (docs/decisions.md, "Traces across NATS
hops").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from opentelemetry.trace import Span, SpanKind

from connmgr.tracing.spans import child, ended_child
from connmgr.workers.checks.base import CheckResult

PHASE_ORDER: Final = ("resolve", "connect", "tls", "auth", "query")
_NS_PER_MS: Final = 1_000_000


@contextlib.contextmanager
def check_span(kind: str) -> Iterator[Span | None]:
    """The span of one check, child of the current span (None when nothing is traced)."""
    with child("check", SpanKind.CLIENT, {"connmgr.check.kind": kind}) as span:
        yield span


def end_check_span(span: Span | None, result: CheckResult, started_ns: int) -> None:
    """Record ``result``'s outcome and its phases (``started_ns``: wall clock, in
    nanoseconds, when the check began) on ``span``."""
    if span is None:
        return
    span.set_attribute("connmgr.check.outcome", result.outcome.value)
    phase_spans(span, result, started_ns)


def phase_spans(parent: Span, result: CheckResult, started_ns: int) -> None:
    """One ended child span of ``parent`` per measured phase, in the order they happen."""
    cursor_ms = 0.0
    for phase in sorted(result.phases, key=_rank):
        begin_ms = result.phase_starts.get(phase, cursor_ms)
        end_ms = begin_ms + result.phases[phase]
        ended_child(
            parent,
            f"check {phase}",
            {"connmgr.check.phase": phase},
            started_ns + int(begin_ms * _NS_PER_MS),
            started_ns + int(end_ms * _NS_PER_MS),
        )
        cursor_ms = end_ms


def _rank(phase: str) -> int:
    return PHASE_ORDER.index(phase) if phase in PHASE_ORDER else len(PHASE_ORDER)
