"""The operations of the AsyncAPI document (``schemas.asyncapi``).

What connmgr does on each channel of ``schemas.asyncapi_channels``: it receives
each command and answers on its ``reply_to``, sends each event, and sends or
receives on the internal channels (the seal key, schedules, firings, dead letters,
the stream upgrade's holding subjects).
"""

from __future__ import annotations

from typing import Any

from connmgr.schemas.asyncapi_channels import (
    COMMAND_VERBS,
    REPLY_CHANNEL,
    command_channel,
    event_channel,
)
from connmgr.schemas.bus import subjects
from connmgr.schemas.events import EVENT_TYPES


def operations() -> dict[str, Any]:
    result: dict[str, Any] = {}
    for verb, model in COMMAND_VERBS.items():
        summary = f"Handle a `{verb}` command; answer on its `reply_to`."
        result[f"receive-{verb}"] = {
            **_operation("receive", command_channel(verb), model, summary, "commands"),
            "reply": {
                "address": {
                    "description": "The command's `reply_to`.",
                    "location": "$message.payload#/reply_to",
                },
                "channel": {"$ref": f"#/channels/{REPLY_CHANNEL}"},
                "messages": [{"$ref": f"#/channels/{REPLY_CHANNEL}/messages/CommandOutcome"}],
            },
        }
    for event_type in EVENT_TYPES:
        summary = f"Publish each committed `{event_type}` once."
        message = f"{event_type}Message"
        channel = event_channel(event_type)
        result[f"send-{event_type}"] = _operation("send", channel, message, summary, "events")
    result.update(_internal_operations())
    return result


def _operation(action: str, channel: str, message: str, summary: str, tag: str) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
        "tags": [{"name": tag}],
    }


def _internal_operations() -> dict[str, Any]:
    def internal(action: str, channel: str, message: str, summary: str) -> dict[str, Any]:
        return _operation(action, channel, message, summary, "internal")

    advisory_operations = {
        f"capture-{kind}": internal(
            "receive", f"deadLetterAdvisory-{kind}", "ConsumerAdvisory", "Kept as a dead letter."
        )
        for kind in subjects.DEAD_LETTER_ADVISORIES
    }
    return {
        "send-sealKey": _operation(
            "send", "sealKey", "SealKeyInfo", "Publish the seal key.", "commands"
        ),
        "send-schedule": internal("send", "schedules", "ScheduledCheck", "Put a schedule."),
        "receive-probe": internal("receive", "probes", "ScheduledCheck", "Run a due check."),
        "send-deadLetter": internal("send", "deadLetters", "HeldCommand", "Set aside a command."),
        **advisory_operations,
        "send-streamUpgrade": internal(
            "send", "streamUpgrade", "HeldCommand", "Hold a command during an upgrade."
        ),
    }
