"""The notifier pool on a real nats-server and PostgreSQL, delivering to a local receiver."""

from __future__ import annotations

import json

from notifier_peers import alert_event, channel_payload
from notifier_stack import NotifierStack, StartStack
from structlog.testing import capture_logs
from structlog.typing import EventDict

from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.message_context import HANDLED
from connmgr.workers.notifier import DeliveryPolicy
from support.haystacks import database_text
from support.leaks import LeakChannels
from support.logging_capture import captured_lines
from support.waiting import wait_for

SECRET = "whsec-Never-In-Logs-42"
ROUTING_KEY = "R0uting-Key-Never-Leaks-99"


async def test_an_alert_reaches_each_channel_signed_and_once_even_when_redelivered(
    start_stack: StartStack,
) -> None:
    policy = DeliveryPolicy(attempts_per_delivery=2, max_attempts=6, backoff_s=0.01)
    stack = await start_stack(policy=policy)
    receiver = stack.receiver
    receiver.secrets = {"a": SECRET, "b": SECRET}
    receiver.scripts["b"] = [503, 503]  # b fails the whole first delivery: the message is nak'd
    await stack.create(
        channel_payload(f"{receiver.url}/a", tags=["notify"]), {"signing_secret": SECRET}
    )
    await stack.create(
        channel_payload(f"{receiver.url}/b", tags=["notify"]), {"signing_secret": SECRET}
    )
    subject, body, event_id = alert_event(await stack.watched())

    await stack.publish(subject, body)
    await wait_for(lambda: len(receiver.at("b")) == 3, timeout=20)
    await wait_for(stack.settled, timeout=20)
    redelivered = await stack.deliveries_made()
    await stack.publish(subject, body)  # the same event again, past NATS dedupe
    await wait_for(lambda: _seq_at_least(stack, redelivered + 1), timeout=20)
    await wait_for(stack.settled, timeout=20)

    assert redelivered == 2  # the first delivery was nak'd and the message came back
    (hit,) = receiver.at("a")
    assert hit.signed
    assert all(h.signed for h in receiver.at("b"))
    document = hit.document
    assert (document["specversion"], document["id"]) == ("1.0", event_id)
    assert document["type"] == "io.connmgr.alert.raised"
    assert document["data"]["connection_name"] == "orders-db"
    assert len(receiver.at("b")) == 3
    rows = {row.channel_id: row for row in await stack.deliveries()}
    assert sorted((row.status, row.attempts) for row in rows.values()) == [
        ("delivered", 1),
        ("delivered", 3),
    ]
    assert len(await stack.events_of("NotificationSent")) == 2


async def _seq_at_least(stack: NotifierStack, sequence: int) -> bool:
    return await stack.deliveries_made() >= sequence


async def test_a_receiver_failing_twice_gets_the_alert_on_the_third_attempt(
    start_stack: StartStack,
) -> None:
    stack = await start_stack()
    stack.receiver.scripts["x"] = [500, 500]
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))
    subject, body, _ = alert_event(await stack.watched())

    await stack.publish(subject, body)
    (sent,) = await wait_for(lambda: stack.events_of("NotificationSent"), timeout=20)
    await wait_for(stack.settled)

    assert len(stack.receiver.at("x")) == 3
    (row,) = await stack.deliveries()
    assert (row.status, row.attempts, row.last_error_code) == ("delivered", 3, None)
    assert (sent.data["attempts"], sent.data["status_code"]) == (3, 200)
    assert await stack.deliveries_made() == 1


async def test_a_receiver_that_always_fails_ends_in_notification_failed_without_a_hot_loop(
    start_stack: StartStack,
) -> None:
    policy = DeliveryPolicy(attempts_per_delivery=2, max_attempts=4, backoff_s=0.01)
    stack = await start_stack(policy=policy)
    stack.receiver.scripts["x"] = [503] * 100
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))
    subject, body, event_id = alert_event(await stack.watched())

    await stack.publish(subject, body)
    (failed,) = await wait_for(lambda: stack.events_of("NotificationFailed"), timeout=30)
    await wait_for(stack.settled)

    assert (failed.data["reason"], failed.data["attempts"]) == ("http_503", 4)
    assert failed.data["alert_event_id"] == event_id
    assert failed.metadata["causation_id"] == event_id
    assert len(stack.receiver.at("x")) == 4  # and nothing is left to deliver: no hot loop
    assert await stack.deliveries_made() == 2
    (row,) = await stack.deliveries()
    assert (row.status, row.last_error_code) == ("failed", "http_503")
    assert await stack.events_of("NotificationSent") == []


async def test_a_channel_the_egress_policy_refuses_gets_no_request(
    start_stack: StartStack,
) -> None:
    stack = await start_stack(egress=Egress(EgressPolicy()))  # loopback refused
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))
    subject, body, _ = alert_event(await stack.watched())

    await stack.publish(subject, body)
    (failed,) = await wait_for(lambda: stack.events_of("NotificationFailed"), timeout=20)
    await wait_for(stack.settled)

    assert (failed.data["reason"], failed.data["attempts"]) == ("refused_by_policy", 1)
    assert stack.receiver.hits == []


async def test_secrets_never_reach_logs_events_or_nats(
    start_stack: StartStack, leak_channels: LeakChannels
) -> None:
    stack = await start_stack()
    url = stack.receiver.url
    stack.receiver.secrets = {"hook": SECRET}
    await stack.create(channel_payload(f"{url}/hook", tags=["notify"]), {"signing_secret": SECRET})
    pagerduty = channel_payload(f"{url}/pd", tags=["notify"], template="pagerduty-events")
    await stack.create(pagerduty, {"api_key": ROUTING_KEY})
    subject, body, _ = alert_event(await stack.watched())

    with capture_logs() as logs:
        await stack.publish(subject, body)
        await wait_for(lambda: _count(stack, "NotificationSent", 2), timeout=20)
        await wait_for(stack.settled)

    (trigger,) = stack.receiver.at("pd")
    assert trigger.document["routing_key"] == ROUTING_KEY  # the one place it must go
    assert stack.receiver.at("hook")[0].signed
    leak_channels.secrets(SECRET, ROUTING_KEY)
    leak_channels.add("structlog events of the publish", repr(logs))
    leak_channels.add("nats traffic", b"\n".join(stack.wire))
    for table, rows in (await database_text(stack.engine)).items():
        leak_channels.add(table, rows)
    leak_channels.assert_clean()


async def _count(stack: NotifierStack, event_type: str, count: int) -> bool:
    return len(await stack.events_of(event_type)) == count


async def test_channels_are_chosen_by_tenant_and_severity_and_told_of_the_resolution(
    start_stack: StartStack,
) -> None:
    stack = await start_stack()
    url = stack.receiver.url
    await stack.create(channel_payload(f"{url}/all", tags=["ops", "notify"]))
    await stack.create(channel_payload(f"{url}/critical", tags=["notify:critical"]))
    await stack.create(channel_payload(f"{url}/other", tags=["notify"]), tenant="other")
    watched = await stack.watched()
    degraded = alert_event(watched, status="degraded")
    resolved = alert_event(watched, raised=False, alert_id=_alert_id(degraded[1]))
    down = alert_event(watched, status="down")

    for subject, body, _ in (degraded, resolved, down):
        await stack.publish(subject, body)
        await wait_for(stack.settled, timeout=20)

    kinds = [hit.document["type"].rsplit(".", 1)[1] for hit in stack.receiver.at("all")]
    assert kinds == ["raised", "resolved", "raised"]
    assert [hit.document["id"] for hit in stack.receiver.at("critical")] == [down[2]]
    assert stack.receiver.at("other") == []


def _alert_id(body: bytes) -> str:
    return str(json.loads(body)["data"]["alert_id"])


async def test_an_unreadable_event_is_acknowledged_and_skipped(start_stack: StartStack) -> None:
    stack = await start_stack()
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))

    await stack.publish("connmgr.evt.acme.nope.AlertRaised", b"{not json")
    await wait_for(lambda: _seq_at_least(stack, 1))
    await wait_for(stack.settled)

    assert stack.receiver.hits == []
    assert await stack.deliveries() == []


async def test_each_delivery_of_an_alert_ends_in_one_handled_line_with_its_ids(
    start_stack: StartStack,
) -> None:
    policy = DeliveryPolicy(attempts_per_delivery=1, max_attempts=6, backoff_s=0.01)
    stack = await start_stack(policy=policy)
    stack.receiver.scripts["x"] = [503]  # the first delivery fails: the message is nak'd
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))
    connection_id = await stack.watched()
    subject, body, event_id = alert_event(connection_id)

    with captured_lines() as lines:
        await stack.publish(subject, body, msg_id=event_id)
        await wait_for(lambda: len(_handled(lines)) == 2, timeout=20)
        await stack.publish("connmgr.evt.acme.nope.AlertRaised", b"{not json")
        await wait_for(lambda: len(_handled(lines)) == 3, timeout=20)

    handled = _handled(lines)
    ids = {
        "tenant": "acme",
        "connection_id": connection_id,
        "event_type": "AlertRaised",
        "event_id": event_id,
        "alert_id": _alert_id(body),
        "durable": "notifier",
    }
    first, second, unreadable = handled
    assert first | ids | {"outcome": "retry", "log_level": "warning", "delivery": 1} == first
    assert second | ids | {"outcome": "done", "log_level": "info", "delivery": 2} == second
    assert unreadable["tenant"] == "acme"
    assert (unreadable["outcome"], unreadable["reason"]) == ("discarded", "unreadable")
    assert "connection_id" not in unreadable  # "nope" is no connection id
    assert all(line["duration_ms"] > 0 for line in handled)


def _handled(lines: list[EventDict]) -> list[EventDict]:
    return [line for line in lines if line["event"] == HANDLED]
