"""The AsyncAPI document cannot drift from the bus (the parser's test: ``test_asyncapi_parser``).

The drift tests read every module of ``schemas/bus/`` and the event registry
themselves: a new subject function, header constant, verb or event type that the
document does not declare fails here (a function that builds no channel must be
listed, with why).
"""

from __future__ import annotations

import inspect
import json
import pkgutil
import re
from importlib import import_module
from typing import Any

import pytest
from jsonschema import Draft7Validator

from connmgr.schemas import bus
from connmgr.schemas.asyncapi import asyncapi_document
from connmgr.schemas.asyncapi_channels import REPLY_CHANNEL
from connmgr.schemas.bus.consumers import ConsumerSpec
from connmgr.schemas.bus.headers import MSG_ID_HEADER, TRACEPARENT_HEADER, TRACEPARENT_PATTERN
from connmgr.schemas.bus.inboxes import gateway_inbox_prefix, tenant_inbox_prefix
from connmgr.schemas.bus.subjects import (
    ALL_VERBS,
    TENANT_PATTERN,
    command_subject,
    event_subject,
    seal_key_subject,
)
from connmgr.schemas.events import EVENT_TYPES
from connmgr.schemas.outcomes import Reason
from support.contract import Contract

VERSION = "9.9.9"
DOCUMENT = asyncapi_document(VERSION)
CONTRACT = Contract(DOCUMENT)
ADDRESSES = {cid: ch["address"] for cid, ch in DOCUMENT["channels"].items()}
BUS_MODULES = [
    import_module(f"{bus.__name__}.{m.name}") for m in pkgutil.iter_modules(bus.__path__)
]


def placeholders(function: Any, **fixed: str) -> dict[str, str]:
    names = inspect.signature(function).parameters
    return {name: fixed.get(name, f"{{{name}}}") for name in names}


CHANNEL_BUILDERS = {
    "command_subject": [dict(verb=verb) for verb in ALL_VERBS],
    "event_subject": [dict(event_type=name) for name in EVENT_TYPES],
    "schedule_subject": [{}],
    "probe_subject": [{}],
    "dead_letter_subject": [{}],
    "upgrade_subject": [{}],
    "seal_key_subject": [{}],
}
STREAM_FILTERS = {
    "command_subjects_all",
    "event_subjects_all",
    "schedule_subjects_all",
    "probe_subjects_all",
    "dead_letter_subjects",
}
REPLY_PREFIXES = {"tenant_inbox_prefix", "gateway_inbox_prefix"}
NO_CHANNEL = {
    "pool_inbox_prefix": "a pool's own pull-batch inbox: JetStream plumbing, no message of ours",
    "is_valid_tenant": "a predicate",
    "parse_command_subject": "a parser",
    "parse_probe_subject": "a parser",
    "parse_event_subject": "a parser",
    "reply_allowed": "a predicate",
    "command_header_refusal": "a predicate",
}


def bus_functions() -> dict[str, Any]:
    return {
        name: value
        for module in BUS_MODULES
        for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__ and name[0] != "_"
    }


def bus_names() -> dict[str, Any]:
    return {name: value for module in BUS_MODULES for name, value in vars(module).items()}


def test_every_function_of_bus_is_a_channel_a_stream_filter_or_listed_as_none() -> None:
    listed = set(CHANNEL_BUILDERS) | STREAM_FILTERS | REPLY_PREFIXES | set(NO_CHANNEL)
    assert set(bus_functions()) == listed


@pytest.mark.parametrize("name", sorted(CHANNEL_BUILDERS))
def test_every_subject_bus_builds_is_the_address_of_a_channel(name: str) -> None:
    function = bus_functions()[name]
    for fixed in CHANNEL_BUILDERS[name]:
        address = function(**placeholders(function, **fixed))
        assert address in ADDRESSES.values(), address


def test_each_channel_lies_in_a_stream_and_each_stream_filter_holds_a_channel() -> None:
    filters = [
        subject for name in sorted(STREAM_FILTERS) for subject in _as_list(bus_functions()[name]())
    ]
    examples = {cid: _example(address) for cid, address in ADDRESSES.items() if address}
    outside = {cid for cid, subject in examples.items() if not _matched(subject, filters)}
    # The KV bucket's own stream, and the holding stream an upgrade creates and deletes.
    assert outside == {"sealKey", "streamUpgrade"}
    assert all(any(_matched(s, [f]) for s in examples.values()) for f in filters)


def test_every_pool_consumer_filter_matches_a_channel() -> None:
    specs = [value for value in bus_names().values() if isinstance(value, ConsumerSpec)]
    assert len(specs) >= 5
    examples = [_example(address) for address in ADDRESSES.values() if address]
    for spec in specs:
        for subject_filter in spec.filter_subjects:
            assert any(_matched(example, [subject_filter]) for example in examples), spec


def test_replies_name_both_inbox_prefixes_a_reply_to_may_use() -> None:
    channel = DOCUMENT["channels"][REPLY_CHANNEL]
    assert channel["address"] is None
    for prefix in (tenant_inbox_prefix("{tenant}"), gateway_inbox_prefix("{tenant}")):
        assert f"`{prefix}.`" in channel["description"]


def test_every_verb_is_received_and_answered_on_the_reply_channel() -> None:
    received = {op["channel"]["$ref"]: op for op in DOCUMENT["operations"].values()}
    for verb in ALL_VERBS:
        channel = CONTRACT.channel_of(command_subject("acme", verb, "an-id"))
        operation = received[f"#/channels/{channel}"]
        assert operation["action"] == "receive"
        assert operation["reply"]["address"]["location"] == "$message.payload#/reply_to"
        assert operation["reply"]["channel"] == {"$ref": f"#/channels/{REPLY_CHANNEL}"}
        payload = CONTRACT.message_of(channel)["payload"]["$ref"].rsplit("/", 1)[1]
        schema = DOCUMENT["components"]["schemas"][payload]
        assert schema["properties"]["type"]["const"] == verb


def test_every_event_type_of_the_registry_is_sent_on_its_own_channel() -> None:
    sent = {
        op["channel"]["$ref"].rsplit("/", 1)[1]
        for op in DOCUMENT["operations"].values()
        if op["action"] == "send"
    }
    for event_type in EVENT_TYPES:
        channel = CONTRACT.channel_of(event_subject("acme", "an-id", event_type))
        assert channel in sent
        payload = CONTRACT.message_of(channel)["payload"]["$ref"].rsplit("/", 1)[1]
        schema = DOCUMENT["components"]["schemas"][payload]
        assert schema["properties"]["type"]["const"] == event_type
        data = schema["properties"]["data"]["$ref"].rsplit("/", 1)[1]
        assert data == event_type


def test_the_tenant_of_each_subject_is_a_parameter_read_from_the_payload() -> None:
    for channel_id, address in ADDRESSES.items():
        if address and "{tenant}" in address:
            parameter = DOCUMENT["channels"][channel_id]["parameters"]["tenant"]
            if channel_id.startswith(("command-", "event-")):
                assert parameter["location"].endswith("tenant"), channel_id
                assert TENANT_PATTERN in parameter["description"]


def test_every_header_bus_names_is_declared_on_a_message() -> None:
    names = {
        value for name, value in bus_names().items() if name.endswith("_HEADER") and name[0] != "_"
    }
    declared = {
        header
        for name, schema in DOCUMENT["components"]["schemas"].items()
        if name.endswith("Headers")
        for header in schema["properties"]
    }
    assert names == declared


W3C_EXAMPLE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (W3C_EXAMPLE, True),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", True),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", False),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", False),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", False),
        ("secret-token", False),
    ],
)
def test_traceparent_is_declared_in_the_w3c_format_on_commands_and_events(
    value: str, valid: bool
) -> None:
    assert (re.fullmatch(TRACEPARENT_PATTERN, value) is not None) is valid
    for headers in ("CommandHeaders", "EventHeaders"):
        schema = {"$ref": f"#/components/schemas/{headers}"}
        instance = {TRACEPARENT_HEADER: value, MSG_ID_HEADER: "1" * 36}
        if headers == "EventHeaders":
            instance[MSG_ID_HEADER] = "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
        assert (CONTRACT.errors(schema, instance) == []) is valid, headers


def test_reason_codes_are_the_closed_list_on_the_reply_and_the_rejection() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    for schema, nullable in (
        (schemas["CommandOutcome"], True),
        (schemas["CommandRejected"], False),
    ):
        reason = schema["properties"]["reason"]
        declared = reason["anyOf"][0] if nullable else reason
        assert declared["enum"] == [r.value for r in Reason]
    assert all(f"`{r.value}`" in DOCUMENT["info"]["description"] for r in Reason)


def test_the_sealed_secret_format_is_stated_where_secrets_are_sent() -> None:
    text = DOCUMENT["info"]["description"]
    for fact in ("HPKE (RFC 9180)", "DHKEM(X25519, HKDF-SHA256)", "connmgr/secrets/v1/"):
        assert fact in text
    sealed = DOCUMENT["components"]["schemas"]["SealedSecrets"]
    assert set(sealed["required"]) == {"sealed", "key_id"}
    assert DOCUMENT["channels"]["sealKey"]["address"] == seal_key_subject()


def test_no_schema_holds_ciphertext_and_the_document_names_no_server() -> None:
    """A relayed event carries secret field names only; the document is no deployment's."""
    schemas = DOCUMENT["components"]["schemas"]
    assert "EncryptedSecrets" not in schemas
    text = json.dumps(DOCUMENT)
    assert '"ciphertext"' not in text
    assert '"nonce"' not in text
    assert "servers" not in DOCUMENT
    for event_type in ("ConnectionCreated", "ConnectionUpdated", "SecretsRotated"):
        secrets = json.dumps(schemas[event_type]["properties"]["secrets"])
        assert "#/components/schemas/SecretsSummary" in secrets


def test_every_schema_is_a_valid_draft_07_schema_and_the_document_is_stable() -> None:
    for schema in DOCUMENT["components"]["schemas"].values():
        Draft7Validator.check_schema(schema)
    assert asyncapi_document(VERSION) == DOCUMENT
    assert DOCUMENT["info"]["version"] == VERSION


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _example(address: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", address)


def _matched(subject: str, filters: list[str]) -> bool:
    """Whether ``subject`` matches one of the NATS subject filters (``*``, ``>``)."""
    tokens = subject.split(".")
    for subject_filter in filters:
        wanted = subject_filter.split(".")
        if wanted[-1] == ">" and len(tokens) >= len(wanted):
            wanted, rest = wanted[:-1], tokens[: len(wanted) - 1]
        else:
            rest = tokens
        if len(rest) == len(wanted) and all(
            w in ("*", t) for w, t in zip(wanted, rest, strict=True)
        ):
            return True
    return False
