"""What a message puts in the log context, read without trusting it, and how long it stays.

A hostile tenant controls its message's body, its headers and the last token of
its subject; it does not control the tenant of the subject (NATS permissions
do). So the context's tenant is the subject's, ids are bound only as canonical
UUIDs, and the one free text (the correlation id) is cut and checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import structlog
from nats.aio.msg import Msg

from connmgr.runtime.logging import REDACTED, configure_logging
from connmgr.schemas.bus.subjects import command_subject, event_subject, probe_subject
from connmgr.schemas.command_parsing import CommandHeader
from connmgr.schemas.settings import Settings
from connmgr.storage.event_log import StoredEvent
from connmgr.workers.batch_writer import BatchWriter
from connmgr.workers.command_records import MessageRef, command_identity
from connmgr.workers.message_context import (
    HANDLED,
    MAX_TEXT,
    batch_scope,
    bound,
    event_fields,
    log_handled,
    message_fields,
    message_scope,
)
from support.commands import command, encode, postgres_payload
from support.logging_capture import captured_lines, restored_logging

CONNECTION = "6a1f0c4e-2b7d-4c39-9e51-0d8f3a2b7c61"
COMMAND = "0e9d7c52-4a38-4f1b-8c6d-5b2a1e9f3d70"
log = structlog.get_logger("connmgr.test")


def jetstream_message(
    subject: str,
    data: bytes = b"{}",
    headers: dict[str, str] | None = None,
    *,
    sequence: int = 17,
    delivered: int = 3,
) -> Msg:
    reply = f"$JS.ACK.CONNMGR_CMD.pool.{delivered}.{sequence}.12.1700000000000000000.0"
    return Msg(cast(Any, None), subject=subject, reply=reply, data=data, headers=headers)


def create_body(tenant: str = "acme", **extra: Any) -> bytes:
    document = command("create", CONNECTION, postgres_payload(), tenant=tenant, **extra)
    return encode({**document, "command_id": COMMAND})


def test_a_command_gives_its_subjects_tenant_verb_and_connection_and_its_ids() -> None:
    message = jetstream_message(
        command_subject("acme", "create", CONNECTION),
        create_body(correlation_id="req-42/retry:1"),
        {"Nats-Msg-Id": COMMAND},
    )
    assert message_fields(message) == {
        "stream_sequence": 17,
        "delivery": 3,
        "tenant": "acme",
        "verb": "create",
        "connection_id": CONNECTION,
        "command_id": COMMAND,
        "correlation_id": "req-42/retry:1",
    }


def test_the_tenant_and_connection_are_the_subjects_whatever_the_body_claims() -> None:
    other = str(uuid.uuid4())
    body = json.loads(create_body(tenant="globex"))
    body.update(connection_id=other, tenant="globex", verb="delete", stream_sequence=1)
    message = jetstream_message(command_subject("acme", "create", CONNECTION), encode(body))
    fields = message_fields(message)
    assert (fields["tenant"], fields["connection_id"], fields["verb"]) == (
        "acme",
        CONNECTION,
        "create",
    )
    assert fields["stream_sequence"] == 17
    assert "globex" not in json.dumps(fields)
    assert other not in json.dumps(fields)


def test_the_command_id_is_the_one_its_outcome_is_recorded_under() -> None:
    """The body's id; else a UUID ``Nats-Msg-Id``; else one derived from the sequence."""
    subject = command_subject("acme", "create", CONNECTION)
    header_only = jetstream_message(subject, b"not json", {"Nats-Msg-Id": COMMAND.upper()})
    assert message_fields(header_only)["command_id"] == COMMAND
    forged = jetstream_message(subject, b"not json", {"Nats-Msg-Id": "x" * 5000})
    derived = command_identity(CommandHeader(), MessageRef("x" * 5000, 17))
    assert message_fields(forged)["command_id"] == str(derived)
    assert "xxx" not in json.dumps(message_fields(forged))


@pytest.mark.parametrize(
    "correlation",
    [
        "a b",
        "req-1\nlevel=critical",
        'req-1" tenant="globex',
        "tenant=globex",
        "req\x1b[31m",
        "rèq",
        "",
    ],
)
def test_an_odd_correlation_id_is_dropped(correlation: object) -> None:
    body = create_body(correlation_id=correlation)
    fields = message_fields(jetstream_message(command_subject("acme", "create", CONNECTION), body))
    assert "correlation_id" not in fields
    assert fields["command_id"] == COMMAND  # the rest of the message is still read


def test_an_overlong_correlation_id_is_cut() -> None:
    body = create_body(correlation_id="r" * 5000)
    fields = message_fields(jetstream_message(command_subject("acme", "create", CONNECTION), body))
    assert fields["correlation_id"] == "r" * MAX_TEXT


@pytest.mark.parametrize("token", ["not-a-uuid", "x" * 300, "a=b", f"{CONNECTION}0"])
def test_a_connection_token_that_is_no_uuid_is_not_bound(token: str) -> None:
    fields = message_fields(jetstream_message(command_subject("acme", "create", token)))
    assert fields["tenant"] == "acme"
    assert "connection_id" not in fields


@pytest.mark.parametrize(
    "subject",
    [
        f"connmgr.cmd.ACME.create.{CONNECTION}",
        f"connmgr.cmd.acme.drop.{CONNECTION}",
        f"connmgr.cmd.acme.create.{CONNECTION}.more",
        f"elsewhere.acme.create.{CONNECTION}",
    ],
)
def test_a_subject_that_is_none_of_ours_gives_no_tenant(subject: str) -> None:
    assert message_fields(jetstream_message(subject, create_body())) == {
        "stream_sequence": 17,
        "delivery": 3,
    }


def test_an_event_gives_its_subjects_fields_and_its_message_id() -> None:
    event_id = str(uuid.uuid4())
    subject = event_subject("acme", CONNECTION, "AlertRaised")
    message = jetstream_message(subject, b'{"tenant": "globex"}', {"Nats-Msg-Id": event_id})
    assert message_fields(message) == {
        "stream_sequence": 17,
        "delivery": 3,
        "tenant": "acme",
        "event_type": "AlertRaised",
        "connection_id": CONNECTION,
        "event_id": event_id,
    }
    odd = jetstream_message(subject, headers={"Nats-Msg-Id": "evt 1 tenant=globex"})
    assert "event_id" not in message_fields(odd)


def test_a_firing_gives_its_subjects_tenant_and_connection_and_no_body() -> None:
    body = create_body(tenant="globex", correlation_id="from-the-body")
    fields = message_fields(jetstream_message(probe_subject("acme", CONNECTION), body))
    assert fields == {
        "stream_sequence": 17,
        "delivery": 3,
        "tenant": "acme",
        "connection_id": CONNECTION,
    }


def test_a_message_without_jetstream_metadata_still_gives_its_subject() -> None:
    message = Msg(cast(Any, None), subject=command_subject("acme", "create", CONNECTION))
    fields = message_fields(message)
    assert fields["tenant"] == "acme"
    assert "stream_sequence" not in fields


def test_a_stored_event_gives_its_ids_and_a_checked_correlation_id() -> None:
    event = StoredEvent(
        position=9,
        event_id=str(uuid.uuid4()),
        stream_id=CONNECTION,
        version=1,
        type="ConnectionCreated",
        tenant="acme",
        data={"password": "never"},
        metadata={"command_id": COMMAND, "correlation_id": "a b", "actor": {"id": "x"}},
        recorded_at=datetime.now(UTC),
        hash="h",
    )
    fields = event_fields(event)
    assert fields == {
        "position": 9,
        "event_type": "ConnectionCreated",
        "tenant": "acme",
        "event_id": event.event_id,
        "connection_id": CONNECTION,
        "command_id": COMMAND,
    }


def test_every_line_inside_a_scope_carries_it_exceptions_included() -> None:
    message = jetstream_message(
        command_subject("acme", "create", CONNECTION), create_body(correlation_id="req-7")
    )
    with captured_lines() as lines, message_scope(message, "encryptor"):
        log.info("working")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("message_failed")
    for line in lines:
        assert line["tenant"] == "acme"
        assert line["durable"] == "encryptor"
        assert (line["command_id"], line["correlation_id"]) == (COMMAND, "req-7")
    assert lines[1]["exc_info"] is True


def test_nothing_leaks_from_one_message_to_the_next() -> None:
    first = jetstream_message(
        command_subject("acme", "create", CONNECTION), create_body(correlation_id="req-1")
    )
    second = jetstream_message(command_subject("globex", "delete", str(uuid.uuid4())), sequence=18)
    with captured_lines() as lines, bound(process="p"):
        with message_scope(first, "pool"):
            structlog.contextvars.bind_contextvars(handler_bound="first only", process="changed")
            log.info("first")
        with message_scope(second, "pool"):
            log.info("second")
        log.info("after")
    first_line, second_line, after = lines
    assert first_line["handler_bound"] == "first only"
    assert second_line["tenant"] == "globex"
    assert second_line["stream_sequence"] == 18
    assert second_line["connection_id"] != first_line["connection_id"]
    assert "correlation_id" not in second_line
    assert "handler_bound" not in second_line
    assert after == {"event": "after", "log_level": "info", "process": "p"}
    assert structlog.contextvars.get_contextvars() == {}


def test_a_batch_scope_names_its_size_and_first_and_last_sequence() -> None:
    subject = command_subject("acme", "create", CONNECTION)
    batch = [jetstream_message(subject, sequence=s) for s in (4, 5, 9)]
    with captured_lines() as lines, batch_scope(batch, "encryptor"):
        log.error("batch_failed")
    assert lines[0] | {"event": "x"} == {
        "event": "x",
        "log_level": "error",
        "durable": "encryptor",
        "batch_size": 3,
        "first_sequence": 4,
        "last_sequence": 9,
    }


def test_the_handled_line_has_its_outcome_and_duration_and_warns_for_a_retry() -> None:
    with captured_lines() as lines:
        log_handled(log, 0.0, "accepted", reason=None)
        log_handled(log, 0.0, "retry", warn=True)
    assert [(line["event"], line["log_level"], line["outcome"]) for line in lines] == [
        (HANDLED, "info", "accepted"),
        (HANDLED, "warning", "retry"),
    ]
    assert all(line["duration_ms"] > 0 for line in lines)


async def test_a_batch_writer_started_by_a_message_does_not_log_in_its_context() -> None:
    """The writer's task is started by the first submitter; its lines for later
    batches must not carry that first message's ids."""

    async def flush(items: list[int]) -> list[int]:
        log.warning("flushed", size=len(items))
        return items

    writer: BatchWriter[int, int] = BatchWriter(flush)
    message = jetstream_message(command_subject("acme", "create", CONNECTION), create_body())
    try:
        with captured_lines() as lines:
            with message_scope(message, "tester"):
                log.info("submitting")  # positive control: the scope is bound here
                assert await writer.submit(1) == 1
            assert await asyncio.wait_for(writer.submit(2), 5) == 2
    finally:
        await writer.close()
    submitting, *flushes = lines
    assert submitting["command_id"] == COMMAND
    assert [line["event"] for line in flushes] == ["flushed", "flushed"]
    assert all("command_id" not in line and "tenant" not in line for line in flushes)


def test_the_context_passes_through_redaction_in_the_configured_pipeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = create_body(correlation_id="password:hunter2")
    message = jetstream_message(command_subject("acme", "create", CONNECTION), body)
    with restored_logging(), contextlib.ExitStack() as scope:
        configure_logging(Settings(log_format="json", log_level="info"))
        scope.enter_context(message_scope(message, "encryptor"))
        log.info(HANDLED, outcome="accepted")
    err = capsys.readouterr().err
    (line,) = [json.loads(text) for text in err.splitlines() if HANDLED in text]
    assert line["tenant"] == "acme"
    assert line["command_id"] == COMMAND
    assert "hunter2" not in err
    assert line["correlation_id"] == f"password:{REDACTED}"
