"""The published contract as a test checks messages against it.

``Contract(document)`` validates a message seen on the bus against the AsyncAPI
document itself (``schemas.asyncapi``), not against the models the code uses:
``channel_of(subject)`` finds the channel whose address matches (parameters match
one token; a subject under ``_INBOX.`` is the reply channel, the one without an
address), ``check(channel, headers, body)`` validates headers and payload with
the document's schemas (draft 07, the AsyncAPI Schema Object's base, formats
checked), and
``check_standalone(name, document)`` validates against the standalone 2020-12
schema of ``schemas.json_schema``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from connmgr.schemas.bus.inboxes import INBOX_ROOT
from connmgr.schemas.json_schema import json_schema

DOCUMENT_URI = "urn:connmgr:asyncapi"


class Contract:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self._registry: Registry[Any] = Registry().with_resource(
            DOCUMENT_URI, Resource(contents=dict(document), specification=DRAFT7)
        )
        self._reply_channel = next(
            channel_id
            for channel_id, channel in document["channels"].items()
            if channel["address"] is None
        )
        self._addresses = {
            channel_id: _address_pattern(channel["address"])
            for channel_id, channel in document["channels"].items()
            if channel["address"] is not None
        }

    def channel_of(self, subject: str) -> str:
        if subject.startswith(f"{INBOX_ROOT}."):
            return self._reply_channel
        found = [cid for cid, pattern in self._addresses.items() if pattern.fullmatch(subject)]
        assert len(found) == 1, (subject, found)
        return found[0]

    def message_of(self, channel_id: str) -> dict[str, Any]:
        """The channel's one message, its ``$ref`` resolved."""
        messages = list(self.document["channels"][channel_id]["messages"].values())
        assert len(messages) == 1, channel_id
        ref = messages[0]["$ref"].removeprefix("#/components/messages/")
        message: dict[str, Any] = self.document["components"]["messages"][ref]
        return message

    def check(self, channel_id: str, headers: Mapping[str, str] | None, body: bytes) -> Any:
        """Validate one message of ``channel_id``; returns its decoded payload."""
        message = self.message_of(channel_id)
        payload = json.loads(body)
        self._validator(message["payload"]).validate(payload)
        if "headers" in message:
            self._validator(message["headers"]).validate(dict(headers or {}))
        return payload

    def errors(self, schema: Mapping[str, Any], instance: Any) -> list[str]:
        return [error.message for error in self._validator(schema).iter_errors(instance)]

    def _validator(self, schema: Mapping[str, Any]) -> Draft7Validator:
        rooted = _rooted(schema)
        return Draft7Validator(
            rooted, registry=self._registry, format_checker=Draft7Validator.FORMAT_CHECKER
        )


def check_standalone(name: str, instance: Any) -> None:
    """Validate ``instance`` against ``json_schema(name)``, the 2020-12 document."""
    schema = json_schema(name)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        instance
    )


def _rooted(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with its document-relative refs made absolute (under the document URI)."""
    text = json.dumps(schema).replace('"$ref": "#/', f'"$ref": "{DOCUMENT_URI}#/')
    rooted: dict[str, Any] = json.loads(text)
    return rooted


def _address_pattern(address: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", address)
    return re.compile("".join("[^.]+" if p.startswith("{") else re.escape(p) for p in parts))
