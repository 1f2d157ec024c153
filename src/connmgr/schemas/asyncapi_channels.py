"""The channels of the AsyncAPI document (``schemas.asyncapi``).

Every address is a ``schemas.bus.subjects`` function called with ``{parameter}``
names, so a subject changed there changes here. The operations on these channels
are in ``schemas.asyncapi_operations``, the messages' header schemas in
``schemas.asyncapi_headers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from connmgr.schemas.bus import inboxes, streams, subjects
from connmgr.schemas.events import EVENT_TYPES

COMMAND_VERBS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "create": "CreateConnection",
        "update": "UpdateConnection",
        "rotate": "RotateSecrets",
        "delete": "DeleteConnection",
        "test": "TestConnection",
        "check": "CheckConnection",
    }
)
"""Each verb of ``subjects.ALL_VERBS`` and the command model published under it."""

TENANT: Final = "{tenant}"
CONNECTION_ID: Final = "{connection_id}"
_MESSAGES: Final = "#/components/messages/"
_SCHEMAS: Final = "#/components/schemas/"
REPLY_CHANNEL: Final = "commandReplies"
_SEQUENCE: Final[Any] = "{sequence}"
"""A parameter where ``subjects.upgrade_subject`` takes a number: it only formats it."""


def command_channel(verb: str) -> str:
    return f"command-{verb}"


def event_channel(event_type: str) -> str:
    return f"event-{event_type}"


def channels() -> dict[str, Any]:
    result: dict[str, Any] = {}
    for verb, model in COMMAND_VERBS.items():
        result[command_channel(verb)] = {
            "address": subjects.command_subject(TENANT, verb, CONNECTION_ID),
            "title": f"{verb} commands",
            "description": f"Stream `{streams.COMMAND_STREAM}`; handled by {_POOL_OF[verb]}.",
            "messages": {model: {"$ref": f"{_MESSAGES}{model}"}},
            "parameters": _parameters("$message.payload#/actor/tenant"),
            "tags": [{"name": "commands"}],
        }
    result[REPLY_CHANNEL] = {
        "address": None,
        "title": "command replies",
        "description": "The command's `reply_to`: a subject under "
        f"`{inboxes.tenant_inbox_prefix(TENANT)}.` or `{inboxes.gateway_inbox_prefix(TENANT)}.`.",
        "messages": {"CommandOutcome": {"$ref": f"{_MESSAGES}CommandOutcome"}},
        "tags": [{"name": "commands"}],
    }
    for event_type in EVENT_TYPES:
        result[event_channel(event_type)] = {
            "address": subjects.event_subject(TENANT, CONNECTION_ID, event_type),
            "title": f"{event_type} events",
            "description": f"Stream `{streams.EVENT_STREAM}`, published by the relay.",
            "messages": {f"{event_type}Message": {"$ref": f"{_MESSAGES}{event_type}Message"}},
            "parameters": _parameters("$message.payload#/tenant"),
            "tags": [{"name": "events"}],
        }
    result.update(_internal_channels())
    return result


def _internal_channels() -> dict[str, Any]:
    schedule = {"ScheduledCheck": {"$ref": f"{_MESSAGES}ScheduledCheck"}}
    held = {"HeldCommand": {"$ref": f"{_MESSAGES}HeldCommand"}}
    internal = [{"name": "internal"}]
    advisories = {
        f"deadLetterAdvisory-{kind}": {
            "address": subject.replace("*", "{consumer}"),
            "description": f"Captured into `{streams.DEAD_LETTER_STREAM}` by the stream itself.",
            "messages": {"ConsumerAdvisory": {"$ref": f"{_MESSAGES}ConsumerAdvisory"}},
            "parameters": {"consumer": {"description": "The pool's durable consumer."}},
            "tags": internal,
        }
        for kind, subject in zip(
            subjects.DEAD_LETTER_ADVISORIES, subjects.dead_letter_subjects()[1:], strict=True
        )
    }
    return {
        "sealKey": {
            "address": subjects.seal_key_subject(),
            "description": "Read-only for producers; written by the encryptor at start.",
            "messages": {"SealKeyInfo": {"$ref": f"{_MESSAGES}SealKeyInfo"}},
            "tags": [{"name": "commands"}],
        },
        "schedules": {
            "address": subjects.schedule_subject(TENANT, CONNECTION_ID),
            "description": f"Stream `{streams.SCHEDULE_STREAM}`: one schedule per connection "
            "(a rollup), put by the prober's schedule keeper.",
            "messages": schedule,
            "parameters": _parameters("$message.payload#/actor/tenant"),
            "tags": internal,
        },
        "probes": {
            "address": subjects.probe_subject(TENANT, CONNECTION_ID),
            "description": f"Stream `{streams.SCHEDULE_STREAM}`: where a schedule fires.",
            "messages": schedule,
            "parameters": _parameters("$message.payload#/actor/tenant"),
            "tags": internal,
        },
        "deadLetters": {
            "address": subjects.dead_letter_subject(TENANT, "{command_id}"),
            "description": f"Stream `{streams.DEAD_LETTER_STREAM}`: a command that failed on "
            "every delivery (`connmgr dlq ls`, `connmgr dlq replay`).",
            "messages": held,
            "parameters": {
                "tenant": {"description": "The command's tenant (`_` when its subject had none)."},
                "command_id": {"description": "The command's id."},
            },
            "tags": internal,
        },
        **advisories,
        "streamUpgrade": {
            "address": subjects.upgrade_subject(_SEQUENCE),
            "description": f"Stream `{streams.UPGRADE_STREAM}`: the command stream's messages "
            "held while `connmgr streams ensure` re-creates that stream.",
            "messages": held,
            "parameters": {"sequence": {"description": "The message's old stream sequence."}},
            "tags": internal,
        },
    }


def _parameters(tenant_location: str) -> dict[str, Any]:
    return {
        "tenant": {
            "description": f"The tenant, `{subjects.TENANT_PATTERN}`; a tenant's identity may "
            "use only its own.",
            "location": tenant_location,
        },
        "connection_id": {
            "description": "The connection's id (a UUID).",
            "location": "$message.payload#/connection_id",
        },
    }


_POOL_OF: Final = {
    **{verb: "the encryptor" for verb in subjects.ENCRYPTOR_VERBS},
    "test": "the tester",
    "check": "the prober",
}
