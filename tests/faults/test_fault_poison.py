"""A poison command, one that fails on every delivery, amid normal load.

``docs/reliability.md`` row 9: no hot loop, the commands behind it unaffected, and
after max deliveries a ``CommandRejected`` (``max_deliveries``) plus a dead letter.
The poison is made by a trigger in the test's database (see ``faultkit.poison``: since
NUL characters are refused up front, no public input always fails). With the product's
backoff (1, 2, 4 … 30 s over 20 deliveries) reaching max deliveries takes about 7.5
minutes: the longest test of the suite, and it runs in ``make test`` like the others,
so CI proves the dead-letter path on a real broker.
"""

from __future__ import annotations

import math
import time

import pytest
from faultkit.cluster import Cluster, StartCluster
from faultkit.load import PlannedCommand, mixed_plan
from faultkit.poison import install_poison_trigger, nul_command, poison_command
from faultkit.progress import RACED, Excuse, only
from faultkit.publisher import Attempt, History, Publication, Publisher, PublishPolicy
from faultkit.reruns import TIMING_RERUNS
from faultkit.scenario import Run
from faultkit.snapshot import take_snapshot

from connmgr.schemas.bus.streams import DEAD_LETTER_STREAM
from connmgr.schemas.bus.subjects import dead_letter_subject
from support.commands import TENANT
from support.waiting import wait_for

pytestmark = [pytest.mark.faults, TIMING_RERUNS]


async def publish(cluster: Cluster, history: History, command: PlannedCommand) -> Publication:
    publication = await Publisher(cluster.nc, history, PublishPolicy()).publish_one(command)
    assert publication.status is Attempt.OK
    return publication


async def outcome_of(cluster: Cluster, command_id: str) -> dict[str, object] | None:
    return (await take_snapshot(cluster)).outcomes.get(command_id)


async def test_a_poison_command_backs_off_and_blocks_nothing_behind_it(
    start_cluster: StartCluster,
) -> None:
    """The poison and a NUL-bearing create go first, then about 2000 commands. The
    NUL one is rejected at once as ``invalid_command``; every other command is
    applied (I1-I7 hold for all but the poison, still retried with backoff); the
    poison was delivered no more often than its backoff allows (no hot loop)."""
    cluster = await start_cluster()
    await install_poison_trigger(cluster)
    history = History()
    bad = await publish(cluster, history, poison_command())
    nul = await publish(cluster, history, nul_command())
    published_at = time.monotonic()
    run = Run.start(cluster, mixed_plan(), PublishPolicy(rate_per_s=90), history)
    poison_id, nul_id = bad.command.command_id, nul.command.command_id
    refused = Excuse("invalid_command", "the NUL-bearing create, refused at once", only(nul_id))
    result = await run.finish(
        "a poison command amid 2000",
        unresolved=frozenset({poison_id}),
        excuses=[refused, RACED],  # two encryptors share the queue
    )
    elapsed = time.monotonic() - published_at
    assert poison_id not in result.snapshot.outcomes
    assert result.snapshot.outcomes[nul_id]["reason"] == "invalid_command"
    deliveries = result.snapshot.consumer.redeliveries + 1  # the poison's are the only ones
    allowed = 2 + math.log2(elapsed + 1)  # nak delays 1, 2, 4, 8 … s: ~log2(t) deliveries
    assert 1 <= deliveries <= allowed, f"{deliveries} deliveries in {elapsed:.0f} s"


@pytest.mark.timeout(1200)
async def test_a_poison_command_ends_as_max_deliveries_with_a_dead_letter(
    start_cluster: StartCluster,
) -> None:
    """The whole path: after 20 deliveries the poison is ``CommandRejected``
    (``max_deliveries``) and copied to the dead-letter stream; I1-I7 hold for all."""
    cluster = await start_cluster()
    await install_poison_trigger(cluster)
    history = History()
    bad = await publish(cluster, history, poison_command())
    run = Run.start(cluster, mixed_plan(), PublishPolicy(rate_per_s=90), history)
    poison_id = bad.command.command_id
    outcome = await wait_for(
        lambda: outcome_of(cluster, poison_id), timeout=900, interval=5, message="max deliveries"
    )
    assert outcome is not None
    assert outcome["reason"] == "max_deliveries"
    dead = Excuse("max_deliveries", "the poison command, dead-lettered", only(poison_id))
    await run.finish("a poison command until max deliveries", excuses=[dead])
    letter = await cluster.nc.jetstream().get_last_msg(
        DEAD_LETTER_STREAM, dead_letter_subject(TENANT, poison_id)
    )
    assert letter.data == bad.command.data
