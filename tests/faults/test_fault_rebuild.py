"""Projection rebuild during live traffic: the API keeps serving, and the result is the fold.

``docs/reliability.md`` row 10. ``connmgr projection rebuild`` runs twice as a
subprocess while commands flow; the API (a process of its own) is polled all along for
``/readyz`` and for a hot connection.
"""

from __future__ import annotations

import aiohttp
import pytest
from faultkit.cluster import ClusterOptions, StartCluster
from faultkit.load import mixed_plan
from faultkit.progress import RACED
from faultkit.publisher import PublishPolicy
from faultkit.readers import Poller, api_status, api_version
from faultkit.reruns import TIMING_RERUNS
from faultkit.scenario import Run

from connmgr.storage.tokens import issue_token
from support.commands import TENANT

pytestmark = [pytest.mark.faults, TIMING_RERUNS]

REBUILDS = 2


async def test_projection_rebuilds_during_live_traffic_keep_the_api_serving(
    start_cluster: StartCluster,
) -> None:
    """Every ``/readyz`` poll answers 200, every read of the hot connection succeeds
    and never sees its version go down (I5), each rebuild exits 0, and after the
    last one the live table equals the fold of the whole log (I4)."""
    cluster = await start_cluster(ClusterOptions(api=True))
    token = await issue_token(cluster.engine, "faults", TENANT, ["read"])
    plan = mixed_plan()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        run = Run.start(cluster, plan, PublishPolicy(rate_per_s=90))
        ready = Poller("readyz", api_status(session, f"{cluster.api_url}/readyz"), 0.05).start()
        reader = Poller("reader (api)", api_version(session, cluster.api_url, plan.hot[0]))
        run.readers.append(reader.start())
        for number in range(1, REBUILDS + 1):
            await run.published(0.2 * number)
            async with cluster.fault(f"projection rebuild #{number}"):
                rebuild = cluster.command("projection", "rebuild", name=f"rebuild-{number}")
                rebuild.start()
                assert await rebuild.wait_exit(timeout=120) == 0, rebuild.tail()
        # Each rebuild holds the chain head while it swaps the table: a backlog builds
        # (the first rebuild meets the last creates and the first changes).
        await run.finish(f"{REBUILDS} projection rebuilds during live traffic", excuses=[RACED])
        await ready.stop()
    assert ready.values, "the API was never polled"
    assert set(ready.values) == {200}, sorted(set(ready.values))
    assert not ready.errors, ready.errors
    assert not reader.errors, reader.errors
