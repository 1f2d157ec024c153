"""The broker crashes or hangs under load: publishers and consumers carry on.

``docs/reliability.md`` rows 4 and 5. The broker runs with ``sync_interval: always``,
so a SIGKILL loses nothing it acknowledged; publishers retry what they were not sure
of with the same ``Nats-Msg-Id``, and the database dedupes the rest.
"""

from __future__ import annotations

import pytest
from faultkit.cluster import StartCluster
from faultkit.load import mixed_plan
from faultkit.outages import hold_fault_for
from faultkit.progress import OVERTAKEN
from faultkit.publisher import Attempt, PublishPolicy
from faultkit.reruns import TIMING_RERUNS
from faultkit.scenario import Run

pytestmark = [pytest.mark.faults, TIMING_RERUNS]


async def test_broker_killed_and_restarted_on_its_store_keeps_every_acknowledged_command(
    start_cluster: StartCluster,
) -> None:
    """SIGKILL nats-server mid-load, keep it down 3 s, start it on the same store.
    Workers, relay and publisher reconnect; every acknowledged publish is applied
    exactly once (I1, I2), acks lost with the server come back as redeliveries."""
    cluster = await start_cluster()
    run = Run.start(cluster, mixed_plan(), PublishPolicy(rate_per_s=90))
    await run.published(0.4)
    async with cluster.fault("nats-server SIGKILLed, down 3 s, restarted on its store"):
        await cluster.kill_nats()
        await hold_fault_for(3.0)
        await cluster.restart_nats()
    await run.finish("SIGKILL nats-server, restart on the same store", excuses=[OVERTAKEN])
    retried = [p for p in run.history.publications.values() if len(p.attempts) > 1]
    assert retried, "no publish met the outage: the fault proved nothing"


async def test_a_hung_broker_makes_publishes_unknown_and_their_retries_apply_once(
    start_cluster: StartCluster,
) -> None:
    """Stop nats-server (SIGSTOP) for 5 s while the producer publishes: publishes time
    out (unknown) though the broker may have read them; the producer retries them
    with the same ``Nats-Msg-Id``. Each is applied once or not at all (I2, I6)."""
    cluster = await start_cluster()
    run = Run.start(cluster, mixed_plan(), PublishPolicy(rate_per_s=90, timeout_s=1.0))
    await run.published(0.4)
    async with cluster.fault("nats-server hung (SIGSTOP) 5 s"):
        cluster.pause_nats()
        try:
            await hold_fault_for(5.0)
        finally:
            cluster.resume_nats()
    verdict = await run.finish("NATS hung while the producer publishes", excuses=[OVERTAKEN])
    unsure = [p for p in run.history.publications.values() if Attempt.UNKNOWN in p.attempts]
    assert unsure, "no publish was left unknown: the fault proved nothing"
    applied = [p for p in unsure if p.command.command_id in verdict.snapshot.outcomes]
    assert applied, "no unknown publish was applied: retries were never exercised"
