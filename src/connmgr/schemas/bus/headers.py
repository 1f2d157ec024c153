"""The bus's header names, and the rule for which a command may carry.

Headers starting ``Nats-`` are the server's: it acts on them when it stores a
message (schedules, rollups, expectations, TTLs, batches). A tenant's command
must act only through its body, so every pool refuses a command carrying any of
them but the duplicate-window id and the expected stream
(``command_header_refusal``); the survey of each server header, and why none then
lets a tenant act outside its subjects, is ``docs/broker-headers.md``. The
schedule and rollup headers are the prober's, on its own stream; the
``Connmgr-*`` headers are ours, on a dead letter or a message an upgrade holds;
``traceparent`` is W3C Trace Context, on commands and events. The AsyncAPI
document declares each.
"""

from __future__ import annotations

from typing import Final

MSG_ID_HEADER: Final = "Nats-Msg-Id"
EXPECTED_STREAM_HEADER: Final = "Nats-Expected-Stream"
SCHEDULE_HEADER: Final = "Nats-Schedule"
SCHEDULE_TARGET_HEADER: Final = "Nats-Schedule-Target"
SCHEDULER_HEADER: Final = "Nats-Scheduler"
ROLLUP_HEADER: Final = "Nats-Rollup"
ROLLUP_SUBJECT: Final = "sub"
EXPECTED_SUBJECT_SEQUENCE_HEADER: Final = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE: Final = 10071
"""JetStream's error code for a publish whose expected last sequence did not hold."""

ORIGINAL_SUBJECT_HEADER: Final = "Connmgr-Original-Subject"
ORIGINAL_SEQUENCE_HEADER: Final = "Connmgr-Original-Sequence"
DEAD_LETTER_REASON_HEADER: Final = "Connmgr-Reason"

TRACEPARENT_HEADER: Final = "traceparent"
"""W3C Trace Context (https://www.w3.org/TR/trace-context/): accepted on commands."""
TRACEPARENT_PATTERN: Final = r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$"
"""A version-00 ``traceparent``: trace id and parent id in lower-case hex, neither all
zeros, then the flags. Anything else is not the W3C format."""

SERVER_HEADER_PREFIX: Final = "nats-"
"""Headers nats-server interprets all start with ``Nats-`` (compared case-insensitively)."""
ALLOWED_COMMAND_HEADERS: Final = frozenset({MSG_ID_HEADER.lower(), EXPECTED_STREAM_HEADER.lower()})
"""The only server headers a command may carry: the duplicate-window id, and the
stream the publisher expects its subject to land in (checked by the server at
publish time against the publisher's own subject; nats-py sends it for
``publish(..., stream=…)``, as the Python producer does)."""


def command_header_refusal(headers: dict[str, str] | None) -> str | None:
    """The first header a command may not carry (lower-cased), or None.

    Any ``Nats-*`` header but ``Nats-Msg-Id`` and ``Nats-Expected-Stream`` is
    refused: schedules, rollups, TTLs, other expectations, batches, traces, and the
    headers the server adds to a message it fired from a schedule. A command must
    act only through its body.
    """
    for name in headers or {}:
        lowered = name.lower()
        if lowered.startswith(SERVER_HEADER_PREFIX) and lowered not in ALLOWED_COMMAND_HEADERS:
            return lowered
    return None
