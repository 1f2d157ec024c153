"""Many concurrent commands on one connection: versions stay 1..n, conflicts get a reason.

``docs/reliability.md`` row 8. Two replicas fetch large batches of updates and
rotations of the same connection at once; a third of them carry an
``expected_version``.
"""

from __future__ import annotations

import json

import pytest
from faultkit.cluster import StartCluster
from faultkit.load import STALE_EVERY, Plan, PlannedCommand, one_connection_plan
from faultkit.progress import Excuse
from faultkit.publisher import History, PublishPolicy
from faultkit.reruns import TIMING_RERUNS
from faultkit.scenario import Run
from faultkit.snapshot import Snapshot

pytestmark = [pytest.mark.faults, TIMING_RERUNS]


def expects_a_version(command: PlannedCommand, snapshot: Snapshot, history: History) -> bool:
    return "expected_version" in json.loads(command.data)["payload"]


CONFLICT = Excuse(
    "version_conflict",
    "a change whose expected_version was stale (every 7th by construction, others as the "
    "race went)",
    expects_a_version,
)


async def test_concurrent_commands_on_one_connection_keep_its_versions_contiguous(
    start_cluster: StartCluster,
) -> None:
    """After the create is applied, 1500 changes of the connection arrive as fast as
    the broker takes them. Versions are contiguous (I3); every change is applied but
    for a ``version_conflict`` of one that expects a version (progress), and every
    change that expects a version it cannot meet gets one; every applied change adds
    exactly one version. A reader polling the connection never sees its version go
    down (I5)."""
    cluster = await start_cluster()
    plan = one_connection_plan(changes=1500)
    fast = PublishPolicy(rate_per_s=1000, in_flight=64)
    # Applied first: replicas share a work queue, so a change racing its own create
    # on another replica may find no connection yet (not_found), as in production.
    create, changes = Plan(plan.commands[:1], plan.hot), Plan(plan.commands[1:], plan.hot)
    run = await Run.after(cluster, create, changes, fast)
    result = await run.finish("1500 concurrent changes of one connection", excuses=[CONFLICT])
    outcomes = {c: result.snapshot.outcomes[c] for c in run.history.publications}
    stale = [c.command_id for n, c in enumerate(plan.commands) if n and n % STALE_EVERY == 0]
    assert all(outcomes[c]["reason"] == "version_conflict" for c in stale)
    applied = sum(1 for o in outcomes.values() if o["outcome"] == "accepted")
    (connection,) = result.snapshot.live.values()
    assert connection.version == applied, (connection.version, applied)
