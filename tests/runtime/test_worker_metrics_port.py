"""A real ``connmgr worker`` process serves its metrics on its probe port: its readiness
and its consumers' backlog from the start, and readiness 0 once its broker is gone."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

from connmgr.runtime.nats_server import NatsServer
from runtime.test_worker_probes import START_TIMEOUT_S, Worker, start_worker
from support.fixture_types import StartNatsServer
from support.scrape import Scrape, parse
from support.waiting import wait_for

__all__ = ["start_worker"]  # fixture

READY = "connmgr_worker_ready"


def scrape(worker: Worker) -> Scrape:
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=5) as answer:
        assert answer.status == 200
        return parse(answer.read().decode())


async def test_the_worker_port_serves_readiness_backlog_and_declared_counters(
    nats_server_factory: StartNatsServer, start_worker: Any
) -> None:
    server: NatsServer = await nats_server_factory()
    worker: Worker = await start_worker("tester", server.url)
    await worker.answers_with("readyz", 200, START_TIMEOUT_S)

    async def ready_with_backlog() -> Scrape | None:
        scraped = await asyncio.to_thread(scrape, worker)
        backlog = frozenset({"pool": "tester", "consumer": "tester"}.items())
        present = ("connmgr_consumer_pending_messages", backlog) in scraped.samples
        return scraped if present and scraped.value(READY, pool="tester") == 1 else None

    scraped = await wait_for(ready_with_backlog, timeout=30, message="ready, backlog read")
    assert (
        scraped.value("connmgr_consumer_ack_pending_messages", pool="tester", consumer="tester")
        == 0
    )
    letters = (
        "connmgr_dead_letters_total",
        frozenset({"pool": "tester", "reason": "max_deliveries"}.items()),
    )
    assert scraped.samples[letters] == 0

    await server.kill()

    async def unready() -> bool:
        return (await asyncio.to_thread(scrape, worker)).value(READY, pool="tester") == 0

    await wait_for(unready, timeout=30, message="readiness 0 once the broker is gone")
