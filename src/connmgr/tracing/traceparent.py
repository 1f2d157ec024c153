"""The W3C ``traceparent`` header: the only trace context connmgr accepts or sends.

A ``traceparent`` in a command's NATS headers or an HTTP request is the sender's
text. ``valid_traceparent`` accepts exactly the version-00 form of
``schemas.bus.headers.TRACEPARENT_PATTERN`` (32 lower-case hex trace id, not all zeros;
16 lower-case hex parent id, not all zeros; 2 hex flags) at exactly its length, and
nothing else: a longer value, another version, upper case, spaces, a line break or
extra fields are dropped, never an error, and the handling starts a fresh root.
``tracestate`` is never read, stored or sent (docs/decisions.md, "Traces across NATS
hops").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from opentelemetry.trace import SpanContext, TraceFlags

from connmgr.schemas.bus.headers import TRACEPARENT_HEADER, TRACEPARENT_PATTERN

TRACEPARENT_LENGTH: Final = 55
"""``00-`` + 32 + ``-`` + 16 + ``-`` + 2 characters."""
_TRACEPARENT: Final = re.compile(TRACEPARENT_PATTERN)


def valid_traceparent(value: object) -> str | None:
    """``value`` when it is a version-00 ``traceparent`` exactly; None otherwise."""
    if not isinstance(value, str) or len(value) != TRACEPARENT_LENGTH:
        return None  # the length first: an oversized value never reaches the pattern
    return value if _TRACEPARENT.fullmatch(value) else None


def traceparent_in(headers: Mapping[str, str] | None) -> str | None:
    """The valid ``traceparent`` of ``headers`` (one lookup, exact name); None when absent
    or malformed."""
    if not headers:
        return None
    return valid_traceparent(headers.get(TRACEPARENT_HEADER))


def span_context_of(traceparent: str) -> SpanContext:
    """The remote span context a valid ``traceparent`` names."""
    _, trace_id, span_id, flags = traceparent.split("-")
    return SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int(span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(int(flags, 16)),
    )


def traceparent_of(context: SpanContext) -> str | None:
    """The ``traceparent`` naming ``context``; None for the invalid (no trace) context."""
    if not context.is_valid:
        return None
    flags = int(context.trace_flags) & 0xFF
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
