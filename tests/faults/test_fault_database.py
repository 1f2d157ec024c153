"""PostgreSQL goes away under load: workers nak with a delay and never ack unapplied work.

``docs/reliability.md`` row 6. The outage touches the test's own database only: first
its sessions are cut again and again, then it refuses connections outright.
"""

from __future__ import annotations

import pytest
from faultkit.cluster import StartCluster
from faultkit.load import mixed_plan
from faultkit.outages import postgres_outage
from faultkit.progress import OVERTAKEN
from faultkit.publisher import PublishPolicy
from faultkit.reruns import TIMING_RERUNS
from faultkit.scenario import Run

pytestmark = [pytest.mark.faults, TIMING_RERUNS]

CUT_S = 4.0
REFUSED_S = 16.0


async def test_postgres_unavailable_for_20_s_loses_nothing_and_exhausts_no_command(
    start_cluster: StartCluster,
) -> None:
    """Sessions cut for 4 s, then connections refused for 16 s, while commands keep
    arriving. Every batch fails and is nak'd with a growing delay; once the database
    is back every acknowledged command is applied once (I1, I2) and none was
    rejected for running out of deliveries."""
    cluster = await start_cluster()
    run = Run.start(cluster, mixed_plan(), PublishPolicy(rate_per_s=90))
    await run.published(0.3)
    async with cluster.fault(f"PostgreSQL sessions cut {CUT_S:.0f} s, refused {REFUSED_S:.0f} s"):
        cut = await postgres_outage(cluster.database, CUT_S, "terminate")
        await postgres_outage(cluster.database, REFUSED_S, "refuse")
    verdict = await run.finish("PostgreSQL unavailable ~20 s", excuses=[OVERTAKEN])
    assert cut > 0, "no session was cut: the outage missed the workers"
    reasons = {o.get("reason") for o in verdict.snapshot.outcomes.values()}
    assert "max_deliveries" not in reasons, "a short outage exhausted a command's deliveries"
    assert verdict.snapshot.consumer.redeliveries > 0, "nothing was nak'd: no worker met it"
