"""The encryptor's dead letters and redeliveries, scraped over HTTP from a real probe port,
after a poison command failed on every delivery (the stack of ``test_dead_letters``)."""

from __future__ import annotations

import uuid
from typing import Any

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.command_log import find_outcome
from connmgr.workers.metric_labels import OTHER
from encryptor.test_dead_letters import POISON, QUICK, publish, running
from support.commands import TENANT, command, postgres_payload
from support.scrape import metrics_port
from support.waiting import wait_for

__all__ = ["running"]  # fixture

LETTERS = "connmgr_dead_letters_total"
REDELIVERED = "connmgr_consumer_redeliveries_total"


async def test_a_poison_command_counts_one_dead_letter_and_its_redeliveries(
    running: tuple[Client, AsyncEngine],
) -> None:
    nc, engine = running
    poison = command(
        "create", str(uuid.uuid4()), postgres_payload(name=POISON, auth={"method": "none"})
    )

    async def outcome() -> Any:
        async with engine.connect() as connection:
            return await find_outcome(connection, TENANT, poison["command_id"])

    with metrics_port("encryptor") as port:
        before = await port.scrape()
        await publish(nc, poison)
        assert (await wait_for(outcome, timeout=30)).reason == "max_deliveries"
        after = await port.scrape()

    letters = {"pool": "encryptor", "reason": "max_deliveries"}
    assert after.value(LETTERS, **letters) - before.value(LETTERS, **letters) == 1
    # the test's durable (QUICK) is no pool's: its batches count under the placeholder
    assert QUICK.durable not in after.text
    redelivered = after.value(REDELIVERED, pool=OTHER) - before.value(REDELIVERED, pool=OTHER)
    assert redelivered == QUICK.max_deliver - 1
    rejected = {"pool": "encryptor", "verb": "create", "reason": "max_deliveries"}
    assert after.value("connmgr_commands_rejected_total", **rejected) >= 1
    for secret in (TENANT, poison["command_id"], poison["connection_id"], POISON):
        assert secret not in after.text
