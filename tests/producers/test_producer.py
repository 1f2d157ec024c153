"""The Python producer against a real nats-server and a faked encryptor."""

from __future__ import annotations

import uuid
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from producer_fakes import ACTOR, TENANT, FakeEncryptor, SealKeys
from pydantic import ValidationError

from connmgr.producers import (
    ConnectionChanges,
    ConnectionSpec,
    InvalidCommand,
    OutcomeTimeout,
    Producer,
    SealKeyUnavailable,
)
from connmgr.schemas.bus.addresses import parse_command_subject
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.bus.streams import COMMAND_STREAM, KEYS_BUCKET, SEAL_KEY_ENTRY
from connmgr.schemas.bus.subjects import command_subject
from connmgr.schemas.commands import (
    CreatePayload,
    DeletePayload,
    PlaintextSecrets,
    RotatePayload,
    SealedSecrets,
    UpdatePayload,
)
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import Reason, field_errors
from connmgr.schemas.sealed import UnsealError, open_secrets
from support import wait_for
from support.leaks import LeakChannels

PASSWORD = "pw-" + uuid.uuid4().hex
POSTGRES: dict[str, Any] = {
    "name": "orders-db",
    "kind": "postgres",
    "config": {"host": "db.internal", "port": 5432, "database": "orders"},
    "auth": {"method": "basic", "username": "app"},
}
SPEC = ConnectionSpec(**POSTGRES)
WITH_PASSWORD = ConnectionSpec(**POSTGRES, secrets={"password": PASSWORD})


async def stored_count(bus: Client) -> int:
    """How many messages the command stream ever stored (its last sequence)."""
    return (await bus.jetstream().stream_info(COMMAND_STREAM)).state.last_seq


async def test_create_returns_the_outcome_the_encryptor_published(
    producer: Producer, encryptor: FakeEncryptor
) -> None:
    outcome = await producer.create(
        ConnectionSpec(**POSTGRES, secrets={"password": PASSWORD}, tags=["prod"])
    )

    [received] = encryptor.received
    assert outcome == received.reply
    assert outcome.outcome == "accepted"
    assert outcome.command_id == received.command.command_id
    assert received.command.payload == CreatePayload.model_validate(
        {
            **POSTGRES,
            "kind": Kind.POSTGRES,
            "tags": ["prod"],
            "secrets": _secrets_of(received.command.payload),
        }
    )


async def test_command_is_addressed_and_identified_by_the_bus_contract(
    producer: Producer, encryptor: FakeEncryptor
) -> None:
    connection_id = uuid.uuid4()
    await producer.create(SPEC, connection_id=connection_id)

    [received] = encryptor.received
    command = received.command
    assert received.subject == command_subject(TENANT, "create", str(connection_id))
    assert received.msg_id == str(command.command_id)
    assert command.connection_id == connection_id
    assert (command.actor.id, command.actor.tenant) == (ACTOR, TENANT)
    assert command.reply_to is not None
    assert command.reply_to.startswith(f"{tenant_inbox_prefix(TENANT)}.")
    assert command.issued_at.utcoffset() is not None


async def test_sealed_secrets_open_for_their_connection_only(
    producer: Producer, encryptor: FakeEncryptor, seal_keys: SealKeys
) -> None:
    await producer.create(WITH_PASSWORD)

    [received] = encryptor.received
    assert received.secrets == {"password": PASSWORD}
    sealed = _secrets_of(received.command.payload)
    assert isinstance(sealed, SealedSecrets)
    assert sealed.key_id == seal_keys.info.key_id
    with pytest.raises(UnsealError):
        open_secrets(sealed.sealed, seal_keys.private, str(uuid.uuid4()))


async def test_no_secret_value_appears_in_the_published_bytes(
    producer: Producer, encryptor: FakeEncryptor, leak_channels: LeakChannels
) -> None:
    await producer.create(WITH_PASSWORD)
    await producer.rotate(encryptor.received[0].command.connection_id, {"password": PASSWORD})

    assert len(encryptor.received) == 2
    leak_channels.secrets(PASSWORD)
    for number, received in enumerate(encryptor.received, start=1):
        assert received.secrets == {"password": PASSWORD}
        leak_channels.add(f"published message {number}", received.raw)
    leak_channels.assert_clean()


async def test_each_verb_is_published_on_its_own_subject_with_its_payload(
    producer: Producer, encryptor: FakeEncryptor
) -> None:
    created = await producer.create(SPEC)
    cid = created.connection_id
    assert cid is not None
    updated = await producer.update(
        cid, ConnectionChanges(description="orders", tags=["a"]), expected_version=1
    )
    rotated = await producer.rotate(cid, {"password": PASSWORD}, expected_version=2)
    deleted = await producer.delete(cid, expected_version=3, reason="retired")

    verbs = [parse_command_subject(r.subject) for r in encryptor.received]
    assert [(v.verb, v.connection_id) for v in verbs if v] == [
        (verb, str(cid)) for verb in ("create", "update", "rotate", "delete")
    ]
    payloads = [r.command.payload for r in encryptor.received]
    assert payloads[1] == UpdatePayload(expected_version=1, description="orders", tags=["a"])
    assert isinstance(payloads[2], RotatePayload)
    assert payloads[2].expected_version == 2
    assert payloads[3] == DeletePayload(expected_version=3, reason="retired")
    events = [o.events for o in (updated, rotated, deleted)]
    assert events == [["ConnectionUpdated"], ["SecretsRotated"], ["ConnectionDeleted"]]


async def test_an_update_with_a_whole_spec_sends_every_field_and_the_new_secrets(
    producer: Producer, encryptor: FakeEncryptor
) -> None:
    connection_id = uuid.uuid4()
    spec = ConnectionSpec(**POSTGRES, secrets={"password": PASSWORD}, tags=["prod"])

    outcome = await producer.update(connection_id, spec, expected_version=4)

    [received] = encryptor.received
    assert received.subject == command_subject(TENANT, "update", str(connection_id))
    payload = received.command.payload
    assert isinstance(payload, UpdatePayload)
    expected = {
        **POSTGRES,
        "kind": Kind.POSTGRES,
        "tags": ["prod"],
        "description": "",
        "notify": None,
    }
    assert payload.model_dump(exclude={"secrets", "health_check"}) == {
        **expected,
        "expected_version": 4,
    }
    assert payload.health_check == spec.health_check
    assert received.secrets == {"password": PASSWORD}  # opened for this connection's id
    assert outcome.events == ["ConnectionUpdated"]


async def test_a_rejection_is_returned_not_raised(
    producer: Producer, encryptor: FakeEncryptor
) -> None:
    encryptor.reject_next.append(Reason.VERSION_CONFLICT)

    outcome = await producer.delete(uuid.uuid4(), expected_version=7)

    assert (outcome.outcome, outcome.reason) == ("rejected", Reason.VERSION_CONFLICT)
    assert len(encryptor.received) == 1


async def test_no_outcome_in_time_raises_outcome_timeout_naming_the_command(
    producer: Producer, encryptor: FakeEncryptor, leak_channels: LeakChannels
) -> None:
    encryptor.silent = True

    with pytest.raises(OutcomeTimeout) as raised:
        await producer.create(WITH_PASSWORD, timeout_s=0.3)

    [received] = encryptor.received
    assert raised.value.command_id == received.command.command_id
    assert raised.value.connection_id == received.command.connection_id
    assert str(received.command.command_id) in str(raised.value)
    leak_channels.secrets(PASSWORD)
    leak_channels.add_exception("timeout", raised.value)
    leak_channels.add("published message", received.raw)
    leak_channels.assert_clean()


async def test_a_changed_seal_key_is_refetched_and_the_command_resent_with_a_new_id(
    producer: Producer, encryptor: FakeEncryptor, seal_keys: SealKeys
) -> None:
    await producer.create(WITH_PASSWORD)  # caches the first key
    old_key = seal_keys.info.key_id
    await seal_keys.rotate()

    outcome = await producer.create(WITH_PASSWORD)

    stale, fresh = encryptor.received[1:]
    assert stale.reply is not None
    assert stale.reply.reason == Reason.UNKNOWN_SEAL_KEY
    assert stale.command.command_id != fresh.command.command_id
    assert stale.command.connection_id == fresh.command.connection_id
    assert [_key_id(r.command.payload) for r in (stale, fresh)] == [old_key, seal_keys.info.key_id]
    assert (outcome.outcome, outcome.command_id) == ("accepted", fresh.command.command_id)
    assert fresh.secrets == {"password": PASSWORD}


async def test_a_seal_key_rejection_with_an_unchanged_key_is_returned_without_resending(
    producer: Producer, encryptor: FakeEncryptor
) -> None:
    encryptor.reject_next.append(Reason.INVALID_SEALED_SECRETS)

    outcome = await producer.create(WITH_PASSWORD)

    assert outcome.reason == Reason.INVALID_SEALED_SECRETS
    assert len(encryptor.received) == 1


async def test_send_publishes_without_reply_subject_or_waiting(
    producer: Producer, encryptor: FakeEncryptor
) -> None:
    connection_id = uuid.uuid4()
    secrets = await producer.channel.seal({"password": PASSWORD}, connection_id)
    payload = CreatePayload.model_validate({**POSTGRES, "kind": Kind.POSTGRES, "secrets": secrets})
    command = producer.channel.command(payload, connection_id, correlation_id="batch-7")

    ack = await producer.channel.send(command)

    assert not ack.duplicate
    [received] = await wait_for(lambda: encryptor.received, message="the sent command")
    assert received.command == command
    assert received.command.reply_to is None
    assert received.secrets == {"password": PASSWORD}


async def test_allow_plaintext_sends_the_secrets_unsealed(
    producers_nats_url: str, encryptor: FakeEncryptor
) -> None:
    async with await Producer.connect(
        producers_nats_url, tenant=TENANT, actor_id=ACTOR, allow_plaintext=True
    ) as plain:
        await plain.create(WITH_PASSWORD)

    [received] = encryptor.received
    plaintext = PlaintextSecrets(plaintext={"password": PASSWORD})
    assert _secrets_of(received.command.payload) == plaintext


async def test_invalid_input_is_refused_before_publishing_without_echoing_values(
    producer: Producer, bus: Client, seal_keys: SealKeys, leak_channels: LeakChannels
) -> None:
    with pytest.raises(ValidationError) as bad_kind:
        ConnectionSpec(name="x", kind="oracle")
    with pytest.raises(ValidationError) as bad_secret:
        ConnectionSpec(**POSTGRES, secrets={"password": PASSWORD, "pin": 987654})
    with pytest.raises(ValidationError) as bad_field:
        ConnectionSpec(**{**POSTGRES, "tags": ["not a tag"]}, secrets={"password": PASSWORD})
    with pytest.raises(InvalidCommand) as bad_rotation:
        await producer.rotate(uuid.uuid4(), {"password": PASSWORD, "pin": 987654})  # type: ignore[dict-item]

    assert [e.field for e in field_errors(bad_kind.value)] == ["kind"]
    assert [e.field for e in field_errors(bad_secret.value)] == ["secrets.pin"]
    assert [e.field for e in field_errors(bad_field.value)] == ["tags.0"]
    assert [e.field for e in bad_rotation.value.errors] == ["secrets.pin"]
    leak_channels.secrets(PASSWORD)
    for name, error in [
        ("spec secrets", bad_secret.value),
        ("spec tags", bad_field.value),
        ("rotation secrets", bad_rotation.value),
    ]:
        leak_channels.add_exception(f"refusal of the {name}", error)
        assert "987654" not in str(error)
        assert "not a tag" not in str(error)
    assert await stored_count(bus) == 0
    leak_channels.assert_clean()


async def test_a_missing_seal_key_raises_seal_key_unavailable(
    producer: Producer, bus: Client, seal_keys: SealKeys
) -> None:
    await (await bus.jetstream().key_value(KEYS_BUCKET)).delete(SEAL_KEY_ENTRY)

    with pytest.raises(SealKeyUnavailable, match=KEYS_BUCKET):
        await producer.create(WITH_PASSWORD)

    assert await stored_count(bus) == 0


def _secrets_of(payload: object) -> object:
    return getattr(payload, "secrets", None)


def _key_id(payload: object) -> str:
    secrets = _secrets_of(payload)
    assert isinstance(secrets, SealedSecrets)
    return secrets.key_id


async def test_a_client_whose_inboxes_are_not_the_tenants_is_refused(
    producers_nats_url: str, bus: Client
) -> None:
    Producer(bus, tenant=TENANT, actor_id=ACTOR)  # positive control: the tenant's inboxes
    other = await nats.connect(producers_nats_url, inbox_prefix=tenant_inbox_prefix("other"))
    plain = await nats.connect(producers_nats_url)
    try:
        for client in (other, plain):
            with pytest.raises(ValueError, match="inbox_prefix") as refused:
                Producer(client, tenant=TENANT, actor_id=ACTOR)
            assert "other" not in str(refused.value)
    finally:
        await other.close()
        await plain.close()
