"""Encryptor replicas killed or stopped under load: nothing lost, nothing applied twice.

RELIABILITY.md rows 1-3. Each test runs two replicas and a relay under about
2000 commands and checks I1-I7 on the whole history afterwards.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from faultkit.cluster import Cluster, ClusterOptions, StartCluster
from faultkit.limbo import freeze, in_limbo, thaw
from faultkit.load import mixed_plan
from faultkit.publisher import PublishPolicy
from faultkit.scenario import Run, handled_count

from support.waiting import wait_for

pytestmark = pytest.mark.faults

LIMBO_ATTEMPTS = 80


async def test_a_replica_killed_mid_batch_loses_nothing_and_doubles_nothing(
    start_cluster: StartCluster,
) -> None:
    """SIGKILL one replica twice while it holds fetched, uncommitted work; it is
    restarted each time. Its unacknowledged messages are redelivered after the ack
    wait and applied once (I1, I2); the redelivery count proves the kills hit work."""
    cluster = await start_cluster()
    run = Run.start(cluster, mixed_plan(), PublishPolicy(rate_per_s=90))
    victim = cluster.encryptors[0]
    for fraction in (0.25, 0.55):
        await run.published(fraction)
        async with cluster.fault(f"SIGKILL {victim.name}"):
            await victim.kill()
            await victim.restart()
    verdict = await run.finish("SIGKILL a replica mid-batch (x2)")
    assert verdict.snapshot.consumer.redeliveries > 0, "no kill hit unacknowledged work"


async def _catch_limbo(cluster: Cluster) -> set[str]:
    """Freeze every replica right after some commit until one has committed, unacked work.

    Returns those commands with the replicas still frozen."""
    for _ in range(LIMBO_ATTEMPTS):
        before = await handled_count(cluster)

        async def committed(before: int = before) -> bool:
            return await handled_count(cluster) > before

        await wait_for(committed, timeout=60, interval=0.001, message="a batch commits")
        freeze(cluster.encryptors)
        limbo = await in_limbo(cluster)
        if limbo:
            return limbo
        thaw(cluster.encryptors)
    raise AssertionError(f"no replica was caught between commit and ack in {LIMBO_ATTEMPTS} tries")


async def test_a_replica_killed_after_commit_before_ack_applies_nothing_twice(
    start_cluster: StartCluster,
) -> None:
    """Freeze both replicas at the moment some commands are committed but not acked
    (they are still in the work-queue stream), SIGKILL both, restart them. Those
    commands are redelivered, recognised as done by their command id and acked
    without a second effect (I2); every one of them shows up as a duplicate."""
    cluster = await start_cluster()
    run = Run.start(cluster, mixed_plan(), PublishPolicy(rate_per_s=120))
    await run.published(0.3)
    async with cluster.fault("SIGKILL both replicas after commit, before ack"):
        limbo = await _catch_limbo(cluster)
        await asyncio.gather(*(replica.restart() for replica in cluster.encryptors))
    verdict = await run.finish(f"SIGKILL after commit, before ack ({len(limbo)} in limbo)")
    recognised = {
        record["command_id"]
        for replica in cluster.encryptors
        for record in replica.log_events("command_handled")
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
    verdict = await run.finish("SIGTERM a replica during load")
    assert code == 0, victim.tail()
    assert list(victim.log_events("pool_stopped")), "the replica did not stop cleanly"
    redeliveries = verdict.snapshot.consumer.redeliveries
    assert redeliveries <= cluster.options.batch_size, f"{redeliveries} redeliveries"
