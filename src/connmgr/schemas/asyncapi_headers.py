"""The header schemas of the AsyncAPI document's messages (``schemas.asyncapi``).

Every header name is a ``schemas.bus.headers`` constant, so a header renamed there
changes here.
"""

from __future__ import annotations

from typing import Any

from connmgr.schemas.bus import headers, streams


def header_schemas() -> dict[str, Any]:
    """The header schemas of the messages, by component name."""
    msg_id = {"type": "string", "maxLength": 256}
    traceparent = {
        "type": "string",
        "pattern": headers.TRACEPARENT_PATTERN,
        "maxLength": 55,
        "description": (
            "Optional. W3C Trace Context, version 00 (https://www.w3.org/TR/trace-context/),"
            " exactly this form: a value in any other form (another version, upper case,"
            " longer, extra fields) is dropped, never an error, and the handling starts a"
            " new trace. `tracestate` is neither read nor sent."
        ),
    }
    return {
        "CommandHeaders": _object(
            {
                headers.MSG_ID_HEADER: {**msg_id, "description": "The command's `command_id`."},
                headers.EXPECTED_STREAM_HEADER: {"const": streams.COMMAND_STREAM},
                headers.TRACEPARENT_HEADER: traceparent,
            },
            "Any other `Nats-*` header is refused (`control_headers`).",
        ),
        "EventHeaders": _object(
            {
                headers.MSG_ID_HEADER: {**msg_id, "format": "uuid", "description": "`event_id`."},
                headers.TRACEPARENT_HEADER: traceparent,
            },
            "Set by the relay.",
            required=[headers.MSG_ID_HEADER],
        ),
        "ScheduleHeaders": _object(
            {
                headers.SCHEDULE_HEADER: {"type": "string", "pattern": r"^@every [0-9]+s$"},
                headers.SCHEDULE_TARGET_HEADER: {"type": "string"},
                headers.ROLLUP_HEADER: {"const": headers.ROLLUP_SUBJECT},
                headers.EXPECTED_SUBJECT_SEQUENCE_HEADER: {"type": "string"},
                headers.SCHEDULER_HEADER: {"type": "string"},
            },
            "A schedule carries the first four; the server adds the scheduler to a firing.",
        ),
        "HeldHeaders": _object(
            {
                headers.ORIGINAL_SUBJECT_HEADER: {"type": "string"},
                headers.ORIGINAL_SEQUENCE_HEADER: {"type": "string", "pattern": "^[0-9]+$"},
                headers.DEAD_LETTER_REASON_HEADER: {"type": "string"},
                headers.MSG_ID_HEADER: msg_id,
            },
            "The subject (and, for a dead letter, the sequence and reason) it had.",
        ),
    }


def _object(
    properties: dict[str, Any], description: str, required: list[str] | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "properties": properties,
    }
    if required:
        schema["required"] = required
    return schema
