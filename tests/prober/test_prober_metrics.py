"""The prober's metrics, scraped over HTTP from a real probe port, after a manual check
and a scheduled firing through the real pool (the stack of ``test_prober_pool``)."""

from __future__ import annotations

import asyncio

from connmgr.schemas.bus.consumers import POOL_CONSUMERS
from connmgr.schemas.bus.streams import SCHEDULE_STREAM
from connmgr.schemas.bus.subjects import probe_subject
from connmgr.workers.backlog import read_backlog
from connmgr.workers.prober.schedule_messages import schedule_body
from prober.test_prober_pool import Stack, create, stack, stored_state, tcp
from support.commands import TENANT, command
from support.scrape import Scrape, metrics_port
from support.waiting import wait_for

__all__ = ["stack"]  # fixture

CHECKS = "connmgr_checks_total"
LAG = "connmgr_schedule_lag_seconds_count"


async def test_a_manual_and_a_scheduled_check_are_counted_and_the_lag_observed(
    stack: Stack,
) -> None:
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    try:
        connection_id = await create(stack, tcp(listener.sockets[0].getsockname()[1]))
        state = await stored_state(stack, connection_id)
        with metrics_port("prober") as port:
            before = await port.scrape()
            reply = await stack.request(command("check", connection_id, {}))
            assert reply["result"]["outcome"] == "ok"
            firing = probe_subject(TENANT, connection_id)
            await stack.nc.jetstream().publish(firing, schedule_body(state), stream=SCHEDULE_STREAM)

            async def lag_observed() -> Scrape | None:
                scrape = await port.scrape()
                return scrape if scrape.value(LAG) > before.value(LAG) else None

            await wait_for(lag_observed, message="the firing's schedule lag")
            await read_backlog(stack.nc.jetstream(), stack.engine, "prober")
            after = await port.scrape()
    finally:
        listener.close()

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    handled = {"pool": "prober", "verb": "check", "outcome": "accepted"}
    assert moved("connmgr_commands_handled_total", **handled) == 1
    assert moved(CHECKS, pool="prober", kind="tcp", outcome="ok") == 2
    assert moved(LAG) == 1
    assert 0 <= moved("connmgr_schedule_lag_seconds_sum") < 60
    assert moved("connmgr_batch_size_count", pool="prober") >= 2
    for _, spec in POOL_CONSUMERS["prober"]:
        labels = frozenset({"pool": "prober", "consumer": spec.durable}.items())
        assert ("connmgr_consumer_ack_pending_messages", labels) in after.samples
    for secret in (TENANT, connection_id):
        assert secret not in after.text
