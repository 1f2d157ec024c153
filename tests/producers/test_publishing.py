"""Publishing a command once per command id, even when acks are lost."""

from __future__ import annotations

import uuid

import pytest
from nats.aio.client import Client
from producer_fakes import ACTOR, TENANT, FakeEncryptor, LosesAcks

from connmgr.producers import Producer, PublishFailed, RetryingPublisher, RetryPolicy
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.schemas.bus.subjects import command_subject

FAST = RetryPolicy(attempts=4, ack_timeout_s=2.0, backoff_s=0.01, max_backoff_s=0.05)


async def stored_count(bus: Client) -> int:
    return (await bus.jetstream().stream_info(COMMAND_STREAM)).state.last_seq


async def test_a_lost_ack_is_retried_with_the_same_bytes_and_msg_id_and_stored_once(
    bus: Client,
) -> None:
    flaky = LosesAcks(bus.jetstream(), lose=2)
    publisher = RetryingPublisher(flaky, COMMAND_STREAM, FAST)
    msg_id = str(uuid.uuid4())

    ack = await publisher.publish(command_subject(TENANT, "delete", msg_id), b"{}", msg_id)

    assert len(flaky.calls) == 3
    assert {body for body, _ in flaky.calls} == {b"{}"}
    assert {headers[MSG_ID_HEADER] for _, headers in flaky.calls} == {msg_id}
    assert ack.duplicate
    assert await stored_count(bus) == 1


async def test_no_ack_after_every_attempt_raises_publish_failed_naming_the_command(
    bus: Client,
) -> None:
    silent = LosesAcks(bus.jetstream(), lose=99, store=False)
    publisher = RetryingPublisher(silent, COMMAND_STREAM, FAST)
    msg_id = str(uuid.uuid4())

    with pytest.raises(PublishFailed, match=msg_id) as raised:
        await publisher.publish(command_subject(TENANT, "delete", msg_id), b"{}", msg_id)

    assert raised.value.attempts == len(silent.calls) == FAST.attempts
    assert await stored_count(bus) == 0


async def test_a_publish_to_a_missing_stream_fails_without_retrying(bus: Client) -> None:
    wrong_stream = RetryingPublisher(bus.jetstream(), "NOT_THE_COMMAND_STREAM", FAST)
    msg_id = str(uuid.uuid4())

    with pytest.raises(PublishFailed) as raised:
        await wrong_stream.publish(command_subject(TENANT, "delete", msg_id), b"{}", msg_id)

    assert raised.value.attempts == 1
    assert await stored_count(bus) == 0


async def test_a_producer_whose_ack_is_lost_still_gets_the_single_outcome(
    bus: Client, encryptor: FakeEncryptor
) -> None:
    flaky = LosesAcks(bus.jetstream(), lose=1)
    producer = Producer(
        bus, tenant=TENANT, actor_id=ACTOR, publisher=RetryingPublisher(flaky, COMMAND_STREAM, FAST)
    )
    await producer.start()
    try:
        outcome = await producer.delete(uuid.uuid4(), reason="lost ack")
    finally:
        await producer.close()

    assert len(flaky.calls) == 2
    assert outcome.outcome == "accepted"
    assert [r.command.command_id for r in encryptor.received] == [outcome.command_id]
    assert await stored_count(bus) == 1
