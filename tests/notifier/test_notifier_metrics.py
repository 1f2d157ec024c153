"""The notifier's metrics, scraped over HTTP from a real probe port, after a real alert
delivered through the real pool to a receiver that fails twice first."""

from __future__ import annotations

from notifier_peers import TENANT, alert_event, channel_payload
from notifier_stack import StartStack

from connmgr.workers.backlog import read_backlog
from support.scrape import metrics_port
from support.waiting import wait_for

SENT = "connmgr_notifications_total"
RETRIES = "connmgr_notification_retries_total"


async def test_a_delivery_is_counted_by_format_and_result_with_its_retries(
    start_stack: StartStack,
) -> None:
    stack = await start_stack()
    stack.receiver.scripts["x"] = [500, 500]
    await stack.create(channel_payload(f"{stack.receiver.url}/x", tags=["notify"]))
    connection_id = await stack.watched()
    subject, body, event_id = alert_event(connection_id)
    with metrics_port("notifier") as port:
        before = await port.scrape()
        await stack.publish(subject, body)
        await wait_for(lambda: stack.events_of("NotificationSent"), timeout=20)
        await wait_for(stack.settled)
        await read_backlog(stack.nc.jetstream(), stack.engine, "notifier")
        after = await port.scrape()

    delivered = {"format": "cloudevents", "result": "delivered"}
    assert after.value(SENT, **delivered) - before.value(SENT, **delivered) == 1
    assert (
        after.value(RETRIES, format="cloudevents") - before.value(RETRIES, format="cloudevents")
        == 2
    )
    backlog = {"pool": "notifier", "consumer": "notifier"}
    assert after.value("connmgr_consumer_ack_pending_messages", **backlog) == 0
    assert after.value("connmgr_batch_size_count", pool="notifier") >= 1
    for secret in (TENANT, connection_id, event_id, "orders-db", "db.internal", "127.0.0.1"):
        assert secret not in after.text
