"""Testing and checking connections with the Python producer, against a faked tester."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from nats.aio.client import Client
from producer_fakes import TENANT, FakeTester, SealKeys, probe_result
from pydantic import ValidationError

from connmgr.producers import ConnectionSpec, OutcomeTimeout, Producer
from connmgr.producers.probes import PROBE_OUTCOME_WAIT_S
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.schemas.bus.subjects import command_subject
from connmgr.schemas.commands import SealedSecrets
from connmgr.schemas.health import HealthCheckSettings
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import Reason, field_errors
from connmgr.schemas.probe_commands import (
    CheckConnection,
    DraftTestPayload,
    StoredTestPayload,
    TestConnection,
)
from connmgr.schemas.sealed import UnsealError, open_secrets
from support.leaks import LeakChannels

PASSWORD = "pw-" + uuid.uuid4().hex
POSTGRES: dict[str, Any] = {
    "name": "orders-db",
    "kind": "postgres",
    "config": {"host": "db.internal", "port": 5432, "database": "orders"},
    "auth": {"method": "basic", "username": "app"},
}
WITH_PASSWORD = ConnectionSpec(**POSTGRES, secrets={"password": PASSWORD})


async def test_testing_a_stored_connection_returns_the_testers_result(
    producer: Producer, tester: FakeTester
) -> None:
    connection_id = uuid.uuid4()
    tester.results.append(probe_result("auth_failed", detail="the credentials were refused"))

    outcome = await producer.test(connection_id, correlation_id="form-7")

    [received] = tester.received
    assert outcome == received.reply
    assert (outcome.outcome, outcome.connection_id) == ("accepted", connection_id)
    assert outcome.result is not None
    assert outcome.result["outcome"] == "auth_failed"
    assert outcome.result["phases"]["tls"] == 12.0
    command = received.command
    assert isinstance(command, TestConnection)
    assert command.payload == StoredTestPayload()
    assert command.correlation_id == "form-7"
    assert received.subject == command_subject(TENANT, "test", str(connection_id))
    assert received.msg_id == str(command.command_id)
    assert command.reply_to is not None
    assert command.reply_to.startswith(f"{tenant_inbox_prefix(TENANT)}.")


async def test_check_is_published_on_the_check_subject_and_awaits_its_outcome(
    producer: Producer, tester: FakeTester
) -> None:
    connection_id = uuid.uuid4()

    outcome = await producer.check(connection_id)

    [received] = tester.received
    assert isinstance(received.command, CheckConnection)
    assert received.subject == command_subject(TENANT, "check", str(connection_id))
    assert outcome == received.reply
    assert outcome.result is not None
    assert outcome.result["outcome"] == "ok"


async def test_a_draft_carries_the_whole_configuration_and_secrets_sealed_for_its_new_id(
    producer: Producer, tester: FakeTester, seal_keys: SealKeys
) -> None:
    outcome = await producer.test_draft(
        ConnectionSpec(**POSTGRES, secrets={"password": PASSWORD}, tags=["new"])
    )

    [received] = tester.received
    draft = received.command.payload
    assert isinstance(draft, DraftTestPayload)
    assert draft.model_dump(include={"name", "kind", "config", "auth", "tags", "draft"}) == {
        **POSTGRES,
        "kind": Kind.POSTGRES,
        "tags": ["new"],
        "draft": True,
    }
    assert received.secrets == {"password": PASSWORD}  # opened for the draft's id
    assert isinstance(draft.secrets, SealedSecrets)
    with pytest.raises(UnsealError):
        open_secrets(draft.secrets.sealed, seal_keys.private, str(uuid.uuid4()))
    assert received.command.connection_id.version == 4
    assert received.subject == command_subject(TENANT, "test", str(outcome.connection_id))
    assert (outcome.outcome, outcome.version) == ("accepted", None)


async def test_a_draft_is_tested_under_the_connection_id_given(
    producer: Producer, tester: FakeTester
) -> None:
    connection_id = uuid.uuid4()

    outcome = await producer.test_draft(
        ConnectionSpec(**POSTGRES), connection_id=str(connection_id)
    )

    assert tester.received[0].command.connection_id == connection_id
    assert outcome.connection_id == connection_id


async def test_no_secret_value_appears_in_a_draft_tests_published_bytes(
    producer: Producer, tester: FakeTester, leak_channels: LeakChannels
) -> None:
    outcome = await producer.test_draft(WITH_PASSWORD)

    [received] = tester.received
    assert received.secrets == {"password": PASSWORD}
    leak_channels.secrets(PASSWORD)
    leak_channels.add("published message", received.raw)
    leak_channels.add("outcome", outcome)
    leak_channels.assert_clean()


async def test_a_draft_sealed_with_a_changed_seal_key_is_resealed_and_resent(
    producer: Producer, tester: FakeTester, seal_keys: SealKeys
) -> None:
    await producer.test_draft(WITH_PASSWORD)  # caches the key
    await seal_keys.rotate()

    outcome = await producer.test_draft(WITH_PASSWORD)

    stale, fresh = tester.received[1:]
    assert stale.reply is not None
    assert stale.reply.reason == Reason.UNKNOWN_SEAL_KEY
    assert stale.command.connection_id == fresh.command.connection_id
    assert fresh.secrets == {"password": PASSWORD}
    assert (outcome.outcome, outcome.command_id) == ("accepted", fresh.command.command_id)


async def test_a_rejected_test_is_returned_not_raised(
    producer: Producer, tester: FakeTester
) -> None:
    tester.reject_next.append(Reason.NOT_FOUND)

    outcome = await producer.test(uuid.uuid4())

    assert (outcome.outcome, outcome.reason, outcome.result) == ("rejected", "not_found", None)


async def test_no_outcome_in_time_raises_outcome_timeout_naming_the_test(
    producer: Producer, tester: FakeTester
) -> None:
    tester.silent = True

    with pytest.raises(OutcomeTimeout) as raised:
        await producer.test(uuid.uuid4(), timeout_s=0.3)

    assert raised.value.command_id == tester.received[0].command.command_id
    assert raised.value.timeout_s == 0.3


def test_the_default_wait_outlasts_the_longest_check_timeout_the_contract_allows(
    producer: Producer,
) -> None:
    schema = HealthCheckSettings.model_json_schema()
    longest_check_s = schema["properties"]["timeout_s"]["maximum"]

    assert producer.probe_wait(None) == max(producer.timeout_s, PROBE_OUTCOME_WAIT_S)
    assert producer.probe_wait(None) > longest_check_s
    assert producer.probe_wait(0.5) == 0.5


async def test_an_invalid_draft_is_refused_before_publishing(
    producer: Producer, bus: Client, seal_keys: SealKeys
) -> None:
    with pytest.raises(ValidationError) as raised:
        await producer.test_draft(
            ConnectionSpec(**{**POSTGRES, "kind": "oracle"}, secrets={"password": PASSWORD})
        )

    assert [e.field for e in field_errors(raised.value)] == ["kind"]
    assert (await bus.jetstream().stream_info(COMMAND_STREAM)).state.last_seq == 0
