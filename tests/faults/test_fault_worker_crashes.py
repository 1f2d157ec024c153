"""Encryptor replicas killed or stopped under load: nothing lost, nothing applied twice.

``docs/reliability.md`` rows 1-3. Each test runs two replicas and a relay under two to
three thousand commands and checks I1-I7 on the whole history afterwards.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from faultkit.cluster import ClusterOptions, StartCluster
from faultkit.load import Plan, mixed_plan
from faultkit.moments import ACROSS_THE_BATCH, catch, thaw
from faultkit.progress import OVERTAKEN
from faultkit.publisher import PublishPolicy
from faultkit.reruns import TIMING_RERUNS
from faultkit.scenario import Run

pytestmark = [pytest.mark.faults, TIMING_RERUNS]

BATCH = 50
BASELINE = 500  # commands handled before the fault: the throughput to recover
FLOOD = PublishPolicy(rate_per_s=5000, in_flight=32)


def burst() -> Plan:
    """About 2900 commands, published as fast as the broker acks them: a backlog
    builds, so every replica always holds a fetched batch."""
    return mixed_plan(connections=900, updates=1000, rotations=500, deletions=200, hot_updates=150)


async def test_a_replica_killed_mid_batch_loses_nothing_and_doubles_nothing(
    start_cluster: StartCluster,
) -> None:
    """Twice, both replicas are frozen when they hold more fetched, uncommitted
    messages than one batch (so each is mid-batch, before its commit); one is
    SIGKILLed, the other thawed, and the dead one restarted. Its messages are
    redelivered after the ack wait and applied once (I1, I2)."""
    cluster = await start_cluster(ClusterOptions(batch_size=BATCH))
    run = Run.start(cluster, burst(), FLOOD)
    await run.handled(BASELINE)
    first, second = cluster.encryptors
    held: list[int] = []
    for victim, survivor in ((first, second), (second, first)):
        async with cluster.fault(f"SIGKILL {victim.name} mid-batch"):
            caught = await catch(
                cluster, run.history, lambda c: c.uncommitted > BATCH, ACROSS_THE_BATCH
            )
            await victim.kill()
            thaw([survivor])
            await victim.restart()
        held.append(caught.uncommitted)
    title = f"SIGKILL a replica mid-batch (x2, {held} uncommitted held)"
    verdict = await run.finish(title, excuses=[OVERTAKEN])
    assert verdict.snapshot.consumer.redeliveries > 0


async def test_replicas_killed_after_commit_before_ack_apply_nothing_twice(
    start_cluster: StartCluster,
) -> None:
    """Both replicas are frozen at a moment when some commands are committed but not
    acked (still in the work-queue stream), SIGKILLed and restarted. Those commands
    are redelivered after the ack wait, recognised as done by their command id and
    acked without a second effect (I2): each shows up as a duplicate in the logs."""
    cluster = await start_cluster(ClusterOptions(batch_size=BATCH))
    run = Run.start(cluster, burst(), FLOOD)
    await run.handled(BASELINE)
    async with cluster.fault("SIGKILL both replicas after commit, before ack"):
        limbo = (await catch(cluster, run.history, lambda c: bool(c.limbo))).limbo
        await asyncio.gather(*(replica.restart() for replica in cluster.encryptors))
    title = f"SIGKILL after commit, before ack ({len(limbo)} in limbo)"
    verdict = await run.finish(title, excuses=[OVERTAKEN])
    recognised = {
        record["command_id"]
        for replica in cluster.encryptors
        for record in replica.log_events("message_handled")
        if record.get("duplicate")
    }
    assert limbo <= recognised, f"not recognised as done: {sorted(limbo - recognised)[:5]}"
    assert limbo <= verdict.snapshot.outcomes.keys()


async def test_sigterm_during_load_finishes_in_flight_work_with_few_redeliveries(
    start_cluster: StartCluster,
) -> None:
    """SIGTERM one replica under load: it finishes (or naks) the batch in hand, exits 0
    within the grace period and is started again; few messages are redelivered."""
    grace_s = 10.0
    cluster = await start_cluster(ClusterOptions(shutdown_grace_s=grace_s))
    run = Run.start(cluster, mixed_plan(), PublishPolicy(rate_per_s=90))
    victim = cluster.encryptors[0]
    await run.published(0.4)
    async with cluster.fault(f"SIGTERM {victim.name}, started again"):
        victim.signal(signal.SIGTERM)
        code = await victim.wait_exit(timeout=grace_s + 15)
        victim.start()
        await victim.wait_ready()
    verdict = await run.finish("SIGTERM a replica during load", excuses=[OVERTAKEN])
    assert code == 0, victim.tail()
    assert list(victim.log_events("pool_stopped")), "the replica did not stop cleanly"
    redeliveries = verdict.snapshot.consumer.redeliveries
    assert redeliveries <= cluster.options.batch_size, f"{redeliveries} redeliveries"
