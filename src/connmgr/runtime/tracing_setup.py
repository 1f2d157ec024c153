"""Installing the tracer provider once per process, from the standard ``OTEL_*`` variables.

Spans are recorded only when an exporter is asked for: ``OTEL_TRACES_EXPORTER``
names ``otlp`` (or ``console``), or it is unset and an OTLP endpoint is given
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``).
With neither, or with ``none`` or ``OTEL_SDK_DISABLED=true``, no provider is
installed and every span helper of ``connmgr.tracing`` is a pass-through.
The exporter reads the rest of its own ``OTEL_EXPORTER_OTLP_*`` variables
(headers, protocol, timeout, certificates) and the resource reads
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``, as the SDK documents.
OTLP needs the ``otlp`` extra; without it the process logs ``tracing_unavailable``
and runs untraced (docs/decisions.md, "Traces across NATS hops").
"""

from __future__ import annotations

from typing import Final

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

log = structlog.get_logger("connmgr.tracing")
DEFAULT_SERVICE_NAME: Final = "connmgr"


class TracingSettings(BaseSettings):
    """The ``OTEL_*`` variables that decide whether spans are recorded at all."""

    model_config = SettingsConfigDict(env_prefix="OTEL_", extra="ignore", frozen=True)

    sdk_disabled: bool = False
    traces_exporter: str | None = None
    exporter_otlp_endpoint: str | None = None
    exporter_otlp_traces_endpoint: str | None = None
    service_name: str | None = None

    def exporter_name(self) -> str | None:
        """``otlp``, ``console``, or None for no exporter (the module docstring's rule)."""
        if self.sdk_disabled:
            return None
        if self.traces_exporter is not None:
            name = self.traces_exporter.strip().lower()
            return None if name in ("", "none") else name
        if self.exporter_otlp_endpoint or self.exporter_otlp_traces_endpoint:
            return "otlp"
        return None


def configure_tracing(settings: TracingSettings) -> TracerProvider | None:
    """Install the provider ``settings`` ask for; None (nothing installed) without one."""
    name = settings.exporter_name()
    if name is None:
        return None
    exporter = _exporter(name)
    if exporter is None:
        return None
    service = settings.service_name or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("tracing_enabled", exporter=name, service=service)
    return provider


def _exporter(name: str) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        log.warning("tracing_unavailable", reason="unknown_exporter", exporter=name[:32])
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning("tracing_unavailable", reason="otlp_extra_missing")
        return None
    return OTLPSpanExporter()
