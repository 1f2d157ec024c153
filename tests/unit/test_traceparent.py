"""The sender's ``traceparent`` (``connmgr.tracing.traceparent``): exactly W3C version 00, or
dropped; the event metadata that keeps it; when a process records spans at all.

A ``traceparent`` is tenant-supplied text: every malformed, oversized or injected value
below must come back as None (the handling then starts a fresh root), never an error.
"""

from __future__ import annotations

from typing import Final

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from pydantic import ValidationError

from connmgr.runtime.tracing_setup import TracingSettings, _exporter, configure_tracing
from connmgr.schemas.stored_events import EventMetadata
from connmgr.tracing.spans import put_traceparent, recording
from connmgr.tracing.traceparent import (
    span_context_of,
    traceparent_in,
    traceparent_of,
    valid_traceparent,
)

VALID: Final = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE: Final = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN: Final = "00f067aa0ba902b7"

DROPPED: Final = {
    "version ff": f"ff-{TRACE}-{SPAN}-01",
    "version 01": f"01-{TRACE}-{SPAN}-01",
    "upper case": f"00-{TRACE.upper()}-{SPAN}-01",
    "trace id all zeros": f"00-{'0' * 32}-{SPAN}-01",
    "span id all zeros": f"00-{TRACE}-{'0' * 16}-01",
    "short trace id": f"00-{TRACE[:-1]}-{SPAN}-01",
    "short flags": f"00-{TRACE}-{SPAN}-1",
    "non-hex": f"00-{TRACE[:-1]}g-{SPAN}-01",
    "extra field": f"{VALID}-00",
    "trailing newline": f"{VALID}\n",
    "injected header line": f"{VALID}\r\nX-Injected: 1",
    "leading space": f" {VALID}",
    "tracestate folded in": f"{VALID},congo=t61rcWkgMzE",
    "oversized": VALID + "a" * 100_000,
    "empty": "",
    "separators swapped": VALID.replace("-", "_"),
}


def test_the_exact_w3c_form_is_accepted() -> None:
    assert valid_traceparent(VALID) == VALID
    assert valid_traceparent(f"00-{TRACE}-{SPAN}-00") is not None  # not sampled: still valid


@pytest.mark.parametrize("value", DROPPED.values(), ids=DROPPED.keys())
def test_anything_else_is_dropped(value: str) -> None:
    assert valid_traceparent(value) is None
    assert traceparent_in({"traceparent": value}) is None


@pytest.mark.parametrize("value", [None, 55, VALID.encode(), [VALID]])
def test_a_value_that_is_not_text_is_dropped(value: object) -> None:
    assert valid_traceparent(value) is None


def test_only_the_exact_header_name_is_read_and_tracestate_never() -> None:
    assert traceparent_in({"traceparent": VALID}) == VALID
    assert traceparent_in({"Traceparent": VALID, "tracestate": "a=b"}) is None
    assert traceparent_in(None) is None
    assert traceparent_in({}) is None


def test_a_valid_traceparent_round_trips_through_its_span_context() -> None:
    context = span_context_of(VALID)
    assert (context.trace_id, context.span_id, context.is_remote) == (
        int(TRACE, 16),
        int(SPAN, 16),
        True,
    )
    assert traceparent_of(context) == VALID


def test_put_traceparent_sets_only_a_value_it_is_given() -> None:
    assert put_traceparent({"a": "1"}, None) == {"a": "1"}
    assert put_traceparent({"a": "1"}, VALID) == {"a": "1", "traceparent": VALID}


def test_event_metadata_keeps_a_valid_traceparent_and_omits_an_absent_one() -> None:
    """Absent, not null: an untraced event's canonical form (so its hash) is unchanged."""
    untraced = EventMetadata(command_id=None, actor_id="a", tenant="acme")
    assert "traceparent" not in untraced.model_dump(mode="json")
    traced = EventMetadata(command_id=None, actor_id="a", tenant="acme", traceparent=VALID)
    assert traced.model_dump(mode="json")["traceparent"] == VALID
    assert EventMetadata.model_validate(traced.model_dump(mode="json")) == traced


@pytest.mark.parametrize("value", DROPPED.values(), ids=DROPPED.keys())
def test_event_metadata_refuses_a_malformed_traceparent(value: str) -> None:
    with pytest.raises(ValidationError):
        EventMetadata(command_id=None, actor_id="a", tenant="acme", traceparent=value)


EXPORTERS: Final = [
    ({}, None),
    ({"OTEL_TRACES_EXPORTER": "none"}, None),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
    ({"OTEL_TRACES_EXPORTER": " OTLP "}, "otlp"),
    ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, None),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, None),
]


@pytest.mark.parametrize(("environment", "exporter"), EXPORTERS)
def test_an_exporter_only_when_the_otel_variables_ask_for_one(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], exporter: str | None
) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert TracingSettings().exporter_name() == exporter


def test_without_an_exporter_nothing_is_installed_and_nothing_records() -> None:
    assert configure_tracing(TracingSettings(traces_exporter="none")) is None
    assert configure_tracing(TracingSettings(traces_exporter="zipkin")) is None
    assert not recording()


def test_otlp_builds_the_sdk_exporter_from_its_own_variables() -> None:
    exporter = _exporter("otlp")
    assert isinstance(exporter, OTLPSpanExporter)
    exporter.shutdown()
