"""Traces across NATS hops: W3C ``traceparent`` in, spans, ``traceparent`` out.

``traceparent`` validates the sender's text (exactly the W3C version-00 form, else
dropped); ``spans`` starts the spans of the pools, the producer and the API on the
OpenTelemetry API. Nothing here installs a tracer provider: a process does that once
at start-up (``runtime.tracing_setup``) and tests install one with an in-memory
exporter. With none installed every helper is a pass-through that costs one header
read and one header write per message (docs/decisions.md, "Traces across NATS hops").

This package imports nothing of ours but ``schemas``, so every layer may use it.
"""
