"""The end of every fault test: drain, snapshot, check, print the table, assert.

Readers keep polling through the drain, so I5 covers the recovery as well, and
are stopped only once the system is idle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from faultkit.checker import Findings, check
from faultkit.cluster import Cluster
from faultkit.drain import drain
from faultkit.progress import Excuse
from faultkit.publisher import History
from faultkit.readers import Poller
from faultkit.report import Report, build_report
from faultkit.snapshot import Snapshot, take_snapshot


@dataclass(frozen=True, slots=True)
class Verdict:
    report: Report
    findings: Findings
    snapshot: Snapshot


async def verdict(
    title: str,
    cluster: Cluster,
    history: History,
    *,
    readers: list[Poller] | None = None,
    unresolved: frozenset[str] = frozenset(),
    drain_timeout: float = 120.0,
    tolerated_exits: frozenset[str] = frozenset(),
    excuses: Iterable[Excuse] = (),
) -> Verdict:
    """Drain the cluster and check the whole history; returns what was found, unasserted.

    A process that exited on its own is a finding unless its name is in
    ``tolerated_exits`` (a known bug, pinned by its own strict-xfail test). Every
    acknowledged command must be applied, but for the rejections ``excuses`` name
    (the progress check, computed once drained)."""
    drain_s: float | None = None
    try:
        drain_s = await drain(cluster, timeout=drain_timeout, unresolved=len(unresolved))
    except AssertionError as error:  # check what is there anyway: the table says what is not
        undrained = str(error)
    reads = [await reader.stop() for reader in readers or []]
    snapshot = await take_snapshot(cluster)
    findings = check(history, snapshot, reads, unresolved, excuses)
    if drain_s is None:
        findings.add("drain", undrained)
    for process in cluster.processes:
        if not process.running:
            findings.add("processes", f"{process.name} is not running ({process.exit_code})")
    for stopped in cluster.exits:
        if stopped.name not in tolerated_exits:
            findings.add("processes", str(stopped))
    report = build_report(title, cluster, history, snapshot, findings, drain_s, reads)
    print("\n" + report.table())
    return Verdict(report, findings, snapshot)


async def assert_invariants(
    title: str,
    cluster: Cluster,
    history: History,
    *,
    readers: list[Poller] | None = None,
    unresolved: frozenset[str] = frozenset(),
    drain_timeout: float = 120.0,
    tolerated_exits: frozenset[str] = frozenset(),
    excuses: Iterable[Excuse] = (),
) -> Verdict:
    """``verdict``, then fail with the table and the process logs if any invariant broke."""
    result = await verdict(
        title,
        cluster,
        history,
        readers=readers,
        unresolved=unresolved,
        drain_timeout=drain_timeout,
        tolerated_exits=tolerated_exits,
        excuses=excuses,
    )
    assert result.findings.ok, f"{result.report.table()}\nlogs:\n{cluster.logs()}"
    return result
