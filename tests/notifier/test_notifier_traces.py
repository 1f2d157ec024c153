"""The notifier's traces: the relayed event's ``traceparent`` header parents its span, and
each webhook request carries the W3C ``traceparent`` of its own span (docs/decisions.md,
"Traces across NATS hops").

A header value is checked again here (the event stream is written by the relay only,
but the notifier trusts no header): a malformed one and any ``tracestate`` never reach
the webhook request, and one tenant's trace never reaches another tenant's channel.
"""

from __future__ import annotations

import uuid
from typing import Final

from notifier_peers import TENANT, alert_event, channel_payload
from notifier_stack import NotifierStack, StartStack

from connmgr.schemas.bus.headers import MSG_ID_HEADER, TRACEPARENT_HEADER
from support.tracing import named, parent_id, recorded_spans, span_id, traceparent_of_span
from support.waiting import wait_for

SENDER: Final = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OTHER: Final = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
MALFORMED: Final = f"{SENDER}\r\ntracestate: evil=1"
OTHER_TENANT: Final = "globex"


async def _alert(stack: NotifierStack, headers: dict[str, str], tenant: str = TENANT) -> None:
    watched = await stack.watched(tenant, name=f"orders-db-{uuid.uuid4().hex[:8]}")
    subject, body, _ = alert_event(watched, tenant=tenant)
    headers = {MSG_ID_HEADER: str(uuid.uuid4()), **headers}
    await stack.nc.jetstream().publish(subject, body, headers=headers)


def _trace_id(traceparent: str) -> str:
    return traceparent.split("-")[1]


async def test_without_a_provider_the_relayed_traceparent_reaches_the_webhook_unchanged(
    start_stack: StartStack,
) -> None:
    stack = await start_stack()
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))
    await _alert(stack, {TRACEPARENT_HEADER: SENDER})
    (hit,) = await wait_for(lambda: stack.receiver.at("x"), timeout=20)
    assert hit.headers[TRACEPARENT_HEADER] == SENDER
    (sent,) = await wait_for(lambda: stack.events_of("NotificationSent"), timeout=20)
    assert sent.metadata["traceparent"] == SENDER  # the audit event joins the same trace


async def test_each_webhook_request_carries_its_own_span_child_of_the_relayed_one(
    start_stack: StartStack,
) -> None:
    stack = await start_stack()
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))
    with recorded_spans() as spans:
        await _alert(stack, {TRACEPARENT_HEADER: SENDER})
        (hit,) = await wait_for(lambda: stack.receiver.at("x"), timeout=20)
        await wait_for(lambda: named(spans, "notifier process"), timeout=10)

    (notified,) = named(spans, "notifier process")
    (posted,) = named(spans, "webhook POST")
    assert parent_id(notified) == int(SENDER.split("-")[2], 16)
    assert parent_id(posted) == span_id(notified)
    assert hit.headers[TRACEPARENT_HEADER] == traceparent_of_span(posted)
    assert _trace_id(hit.headers[TRACEPARENT_HEADER]) == _trace_id(SENDER)
    (sent,) = await wait_for(lambda: stack.events_of("NotificationSent"), timeout=20)
    assert sent.metadata["traceparent"] == traceparent_of_span(notified)


async def test_an_untraced_delivery_records_no_traceparent(start_stack: StartStack) -> None:
    stack = await start_stack()
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))
    await _alert(stack, {})
    (sent,) = await wait_for(lambda: stack.events_of("NotificationSent"), timeout=20)
    assert "traceparent" not in sent.metadata  # absent, not null: the canonical form is unchanged


async def test_a_malformed_traceparent_and_any_tracestate_never_reach_the_webhook(
    start_stack: StartStack,
) -> None:
    stack = await start_stack()
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))
    abuse = {TRACEPARENT_HEADER: MALFORMED, "tracestate": "congo=t61rcWkgMzE," * 64}
    await _alert(stack, abuse)
    (untraced,) = await wait_for(lambda: stack.receiver.at("x"), timeout=20)
    with recorded_spans() as spans:
        await _alert(stack, abuse)
        await wait_for(lambda: len(stack.receiver.at("x")) == 2, timeout=20)
        await wait_for(lambda: named(spans, "notifier process"), timeout=10)
    traced = stack.receiver.at("x")[1]

    assert TRACEPARENT_HEADER not in untraced.headers  # dropped, nothing to pass through
    (notified,) = named(spans, "notifier process")
    assert notified.parent is None  # a fresh root
    assert _trace_id(traced.headers[TRACEPARENT_HEADER]) != _trace_id(SENDER)
    for hit in (untraced, traced):
        assert "tracestate" not in {name.lower() for name in hit.headers}
        assert "evil" not in " ".join(hit.headers.values())


async def test_a_tenants_trace_never_reaches_another_tenants_channel(
    start_stack: StartStack,
) -> None:
    stack = await start_stack()
    await stack.create(channel_payload(f"{stack.receiver.url}/ours", tags=["notify"]))
    theirs = channel_payload(f"{stack.receiver.url}/theirs", tags=["notify"])
    await stack.create(theirs, tenant=OTHER_TENANT)
    with recorded_spans():
        await _alert(stack, {TRACEPARENT_HEADER: SENDER})
        await _alert(stack, {TRACEPARENT_HEADER: OTHER}, tenant=OTHER_TENANT)
        (ours,) = await wait_for(lambda: stack.receiver.at("ours"), timeout=20)
        (other,) = await wait_for(lambda: stack.receiver.at("theirs"), timeout=20)

    assert _trace_id(ours.headers[TRACEPARENT_HEADER]) == _trace_id(SENDER)
    assert _trace_id(other.headers[TRACEPARENT_HEADER]) == _trace_id(OTHER)
