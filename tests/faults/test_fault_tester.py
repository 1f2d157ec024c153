"""Tester replicas under a few hundred ``test`` commands: a replica SIGKILLed mid-run,
or the database gone for a while, and still every acknowledged test has exactly
one recorded outcome (one ``ConnectionTested``), none lost, none doubled.

Two ``connmgr worker tester`` replicas test HTTP connections to a target in the
test's own process that answers after 0.2 s, so each replica always holds tests
in flight. The connections are created first (one encryptor), then the tests
are published; the checker judges I1-I7 and progress on the whole history: every
acknowledged test applied, with exactly one ``ConnectionTested``.
"""

from __future__ import annotations

from collections import Counter

import pytest
from faultkit.cluster import Cluster, ClusterOptions, StartCluster
from faultkit.load import Plan, http_tests_plan
from faultkit.observe import consumer_stats
from faultkit.outages import postgres_outage
from faultkit.publisher import Attempt, PublishPolicy
from faultkit.report import Report
from faultkit.reruns import TIMING_RERUNS
from faultkit.scenario import Run, handled_count
from faultkit.targets import slow_http_target
from faultkit.verdict import Verdict

from connmgr.schemas.bus.consumers import TESTER_CONSUMER

pytestmark = [pytest.mark.faults, TIMING_RERUNS]

TARGET_DELAY_S = 0.2
TESTERS = ClusterOptions(encryptors=1, testers=2, settings=(("CONNMGR_TESTER_PER_TARGET", "32"),))
PACE = PublishPolicy(rate_per_s=60)


async def load_of_tests(start_cluster: StartCluster, target: str) -> tuple[Cluster, Plan, Run]:
    """Two testers; the connections created and handled, the tests being published."""
    cluster = await start_cluster(TESTERS)
    creates, tests = http_tests_plan(target)
    return cluster, tests, await Run.after(cluster, creates, tests, PACE)


async def judge_tests(title: str, cluster: Cluster, plan: Plan, run: Run, verdict: Verdict) -> int:
    """Prints the tests' figures and returns the tester's redeliveries. That each
    acknowledged test was applied with one ``ConnectionTested`` is the checker's
    progress, asserted by ``run.finish``."""
    acknowledged = {
        p.command.command_id
        for p in run.history.with_status(Attempt.OK)
        if p.command.verb == "test"
    }
    outcomes = [verdict.snapshot.outcomes[cid] for cid in acknowledged]
    results = Counter(str(o.get("result", {}).get("outcome")) for o in outcomes)
    stats = await consumer_stats(cluster.nc, TESTER_CONSUMER)
    redeliveries = stats.deliveries - len(outcomes)
    progress = verdict.findings.progress
    rows = [
        ("tests planned / acknowledged", f"{len(plan)} / {len(acknowledged)}"),
        ("tested (one ConnectionTested)", f"{progress.tested} of {progress.tests_applied}"),
        ("results", str(dict(results))),
        ("tester deliveries / redeliveries", f"{stats.deliveries} / {redeliveries}"),
    ]
    print(Report(f"{title}: the tests", rows).table())
    return redeliveries


async def test_a_tester_killed_mid_run_loses_no_test_and_records_none_twice(
    start_cluster: StartCluster,
) -> None:
    """Once a quarter of the tests are handled, one replica is SIGKILLed with tests in
    flight and started again. Its unacknowledged messages come back after the ack
    wait and are tested again; each is recorded once."""
    async with slow_http_target(TARGET_DELAY_S) as target:
        cluster, tests, run = await load_of_tests(start_cluster, target)
        victim = cluster.testers[0]
        await run.handled(await handled_count(cluster) + len(tests) // 4)
        async with cluster.fault(f"SIGKILL {victim.name} mid-run, started again"):
            in_flight = (await consumer_stats(cluster.nc, TESTER_CONSUMER)).ack_pending
            await victim.restart()
        title = f"SIGKILL a tester mid-run ({in_flight} tests unacknowledged)"
        verdict = await run.finish(title)
        redeliveries = await judge_tests(title, cluster, tests, run, verdict)
    assert in_flight > 0, "no test was in flight: the kill proved nothing"
    assert redeliveries > 0, "nothing the killed replica held came back"


async def test_a_database_outage_under_test_load_loses_no_test(
    start_cluster: StartCluster,
) -> None:
    """Sessions cut 3 s, then connections refused 8 s, while tests arrive: results
    cannot be written, the messages are nak'd with a growing delay and tested again
    once the database is back; none is lost, none recorded twice, none exhausted."""
    async with slow_http_target(TARGET_DELAY_S) as target:
        cluster, tests, run = await load_of_tests(start_cluster, target)
        await run.published(0.3)
        async with cluster.fault("PostgreSQL sessions cut 3 s, refused 8 s"):
            cut = await postgres_outage(cluster.database, 3.0, "terminate")
            await postgres_outage(cluster.database, 8.0, "refuse")
        title = "PostgreSQL unavailable ~11 s under test load"
        verdict = await run.finish(title)
        redeliveries = await judge_tests(title, cluster, tests, run, verdict)
    assert cut > 0, "no session was cut: the outage missed the testers"
    assert redeliveries > 0, "nothing was nak'd: no tester met the outage"
