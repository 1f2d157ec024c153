"""The gate every pool passes a command message through, without a broker: which
headers are refused, which ``reply_to`` is answered, and what is checked first."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from connmgr.schemas.bus.inboxes import gateway_inbox_prefix, tenant_inbox_prefix
from connmgr.schemas.command_parsing import parse_encryptor_command
from connmgr.schemas.commands import EncryptorCommand
from connmgr.workers.command_gate import Admission, CommandMessage, admit
from support.commands import command, encode, postgres_payload, subject_of

TENANT = "acme"


def gate(
    document: dict[str, Any] | bytes,
    headers: dict[str, str] | None = None,
    subject: str | None = None,
) -> Admission[EncryptorCommand]:
    data = document if isinstance(document, bytes) else encode(document)
    where = subject or (subject_of(document) if isinstance(document, dict) else "")
    message = CommandMessage(where, data, headers, None, 1)
    return admit(message, parse_encryptor_command)


def create(**extra: Any) -> dict[str, Any]:
    payload = postgres_payload(auth={"method": "none"})
    return command("create", str(uuid.uuid4()), payload, tenant=TENANT, **extra)


def test_a_clean_command_with_its_own_inbox_is_admitted() -> None:
    reply_to = f"{tenant_inbox_prefix(TENANT)}.abc"
    admitted = gate(create(reply_to=reply_to), {"Nats-Msg-Id": "x", "Nats-Expected-Stream": "S"})
    assert (admitted.rejection, admitted.reply_to, admitted.tenant) == (None, reply_to, TENANT)
    assert admitted.command is not None


@pytest.mark.parametrize(
    "header",
    [
        "Nats-Schedule",
        "Nats-Schedule-Target",
        "Nats-Scheduler",
        "Nats-Schedule-Next",
        "Nats-Rollup",
        "Nats-TTL",
        "Nats-Expected-Last-Sequence",
        "Nats-Expected-Last-Subject-Sequence",
        "Nats-Expected-Last-Msg-Id",
        "Nats-Batch-Id",
        "Nats-Trace-Dest",
        "nats-rollup",
        "NATS-ANYTHING",
    ],
)
def test_every_other_broker_header_is_refused_naming_it_not_its_value(header: str) -> None:
    reply_to = f"{tenant_inbox_prefix(TENANT)}.abc"
    admitted = gate(create(reply_to=reply_to), {header: "connmgr.cmd.other.delete.x"})
    assert admitted.rejection is not None
    assert admitted.rejection.reason == "control_headers"
    assert header.lower() in admitted.rejection.message
    assert "other" not in admitted.rejection.message
    assert admitted.command is None  # its actor is not trusted in the record
    assert admitted.reply_to == reply_to  # the refusal is answered where it may be


def test_a_header_refusal_comes_before_the_body() -> None:
    admitted = gate(b"not json", {"Nats-Rollup": "all"}, subject="connmgr.cmd.acme.create.x")
    assert admitted.rejection is not None
    assert admitted.rejection.reason == "control_headers"


@pytest.mark.parametrize(
    ("reply_to", "answered"),
    [
        (f"{tenant_inbox_prefix(TENANT)}.a.b", True),
        (f"{gateway_inbox_prefix(TENANT)}.a", True),
        (f"{tenant_inbox_prefix('other')}.a", False),
        (f"{gateway_inbox_prefix('other')}.a", False),
        ("_INBOX.pool.encryptor.a", False),
        ("_INBOX.a", False),
        (f"{tenant_inbox_prefix(TENANT)}2.a", False),
    ],
)
def test_only_a_reply_to_under_the_subjects_tenant_is_answered(
    reply_to: str, answered: bool
) -> None:
    admitted = gate(create(reply_to=reply_to))
    assert (admitted.reply_to is not None) is answered
    assert (admitted.rejection is None) is answered
    if not answered:
        assert admitted.rejection is not None
        assert admitted.rejection.reason == "invalid_reply_to"
        assert admitted.command is not None  # it passed the tenant check: its record names it


def test_the_tenant_of_the_subject_decides_the_key_and_the_reply() -> None:
    document = create(reply_to=f"{tenant_inbox_prefix('other')}.x")
    document["actor"]["tenant"] = "other"  # claims another tenant, on acme's subject
    admitted = gate(document, subject=subject_of(document, TENANT))
    assert admitted.rejection is not None
    assert admitted.rejection.reason == "tenant_mismatch"
    assert admitted.key == (TENANT, document["command_id"])
    assert admitted.reply_to is None  # the other tenant's inbox is not acme's
    assert admitted.command is None


def test_an_unparseable_message_is_keyed_by_its_subjects_tenant() -> None:
    reply_to = f"{tenant_inbox_prefix(TENANT)}.x"
    document = {**create(reply_to=reply_to), "surprise": True}
    admitted = gate(document)
    assert admitted.rejection is not None
    assert admitted.rejection.reason == "invalid_command"
    assert admitted.key == (TENANT, document["command_id"])
    assert admitted.reply_to == reply_to
