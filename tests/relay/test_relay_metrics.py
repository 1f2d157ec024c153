"""The relay's metrics, scraped over HTTP from a real probe port: its lag (log head minus
checkpoint, read by the backlog reader) and each publish, after real events relayed."""

from __future__ import annotations

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.workers.backlog import read_backlog
from connmgr.workers.relay.service import Relay
from relay.test_relay import append, drain, event, js
from support.scrape import metrics_port

__all__ = ["js"]  # fixture

LAG = "connmgr_relay_lag_events"


async def test_the_lag_counts_unrelayed_events_and_publishes_are_counted_and_timed(
    engine: AsyncEngine, js: JetStreamContext
) -> None:
    relay = Relay(js, engine, batch_size=2)
    await relay.start()
    with metrics_port("relay") as port:
        before = await port.scrape()
        await append(engine, *(event("stream-of-tenant-9f2c", n + 1) for n in range(5)))
        await read_backlog(js, engine, "relay")
        behind = await port.scrape()
        await drain(relay)
        await read_backlog(js, engine, "relay")
        after = await port.scrape()

    assert behind.value(LAG) == 5
    assert after.value(LAG) == 0
    published = "connmgr_relay_published_total"
    assert after.value(published) - before.value(published) == 5
    timed = "connmgr_relay_publish_seconds_count"
    assert after.value(timed) - before.value(timed) == 5
    assert after.value("connmgr_worker_ready", pool="relay") == 1
    for secret in ("acme", "stream-of-tenant-9f2c", "SecretsRotated"):
        assert secret not in after.text
