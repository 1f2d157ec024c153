"""``command_header_refusal``: a command may carry no header the server interprets but
``Nats-Msg-Id`` and ``Nats-Expected-Stream`` (docs/broker-headers.md lists every one and
why)."""

from __future__ import annotations

import pytest

from connmgr.schemas.bus.headers import command_header_refusal

CATALOGUE = [
    "Nats-Expected-Last-Sequence",
    "Nats-Expected-Last-Subject-Sequence",
    "Nats-Expected-Last-Subject-Sequence-Subject",
    "Nats-Expected-Last-Msg-Id",
    "Nats-Rollup",
    "Nats-TTL",
    "Nats-Incr",
    "Nats-Batch-Id",
    "Nats-Batch-Sequence",
    "Nats-Batch-Commit",
    "Nats-Schedule",
    "Nats-Schedule-Target",
    "Nats-Schedule-Source",
    "Nats-Schedule-TTL",
    "Nats-Schedule-Rollup",
    "Nats-Schedule-Time-Zone",
    "Nats-Scheduler",
    "Nats-Schedule-Next",
    "Nats-Trace-Dest",
    "Nats-Trace-Only",
    "Nats-Trace-Hop",
    "Nats-Trace-Origin-Account",
    "Nats-Stream",
    "Nats-Sequence",
    "Nats-Subject",
    "Nats-Stream-Source",
    "Nats-Marker-Reason",
    "Nats-Counter-Sources",
    "Nats-Request-Info",
]


@pytest.mark.parametrize("header", CATALOGUE)
def test_every_header_the_server_interprets_is_refused(header: str) -> None:
    headers = {"Nats-Msg-Id": "c1", header: "x"}
    assert command_header_refusal(headers) == header.lower()


@pytest.mark.parametrize("spelling", ["Nats-Rollup", "NATS-ROLLUP", "nats-rollup"])
def test_names_are_compared_case_insensitively(spelling: str) -> None:
    assert command_header_refusal({spelling: "all"}) == "nats-rollup"


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"Nats-Msg-Id": "c1"},
        {"NATS-MSG-ID": "c1"},
        {"Nats-Expected-Stream": "CONNMGR_CMD"},
        {"Traceparent": "00-1-2-01"},
    ],
    ids=["none", "empty", "msg-id", "msg-id-upper", "expected-stream", "unrelated"],
)
def test_the_duplicate_window_id_and_other_headers_pass(headers: dict[str, str] | None) -> None:
    assert command_header_refusal(headers) is None
