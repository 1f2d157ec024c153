"""The Producer's ``traceparent`` (``producers.channel``): a request is a ``PRODUCER`` span,
child of the caller's current one, and every publish of its command (retries
included) carries that span's header; with no provider nothing is invented.
"""

from __future__ import annotations

import uuid

from nats.aio.client import Client
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from producer_fakes import ACTOR, TENANT, FakeEncryptor, LosesAcks

from connmgr.producers import Producer, RetryingPublisher, RetryPolicy
from connmgr.schemas.bus.headers import TRACEPARENT_HEADER
from connmgr.schemas.bus.streams import COMMAND_STREAM
from support.tracing import named, parent_id, recorded_spans, span_id, traceparent_of_span

FAST = RetryPolicy(attempts=3, ack_timeout_s=2.0, backoff_s=0.01, max_backoff_s=0.05)


async def _delete(bus: Client, publisher: LosesAcks) -> str:
    retrying = RetryingPublisher(publisher, COMMAND_STREAM, FAST)
    producer = Producer(bus, tenant=TENANT, actor_id=ACTOR, publisher=retrying)
    await producer.start()
    try:
        outcome = await producer.delete(uuid.uuid4(), reason="traced")
    finally:
        await producer.close()
    return outcome.outcome


async def test_every_publish_carries_the_request_spans_traceparent_child_of_the_callers(
    bus: Client, encryptor: FakeEncryptor
) -> None:
    publisher = LosesAcks(bus.jetstream(), lose=1)
    with recorded_spans() as spans, trace.get_tracer("caller").start_as_current_span("caller"):
        assert await _delete(bus, publisher) == "accepted"
    (caller,) = named(spans, "caller")
    (request,) = named(spans, "delete command")

    assert request.kind is SpanKind.PRODUCER
    assert parent_id(request) == span_id(caller)
    assert len(publisher.calls) == 2  # the retry carries the same header
    assert {h[TRACEPARENT_HEADER] for _, h in publisher.calls} == {traceparent_of_span(request)}
    assert "tracestate" not in publisher.calls[0][1]


async def test_with_no_provider_and_no_current_span_no_traceparent_is_sent(
    bus: Client, encryptor: FakeEncryptor
) -> None:
    publisher = LosesAcks(bus.jetstream(), lose=1)
    assert await _delete(bus, publisher) == "accepted"
    assert publisher.calls
    assert all(TRACEPARENT_HEADER not in headers for _, headers in publisher.calls)
