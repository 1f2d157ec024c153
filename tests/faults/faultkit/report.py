"""The checker's table: what was sent, what the system made of it, and how it recovered.

Two recovery figures per fault window, both from ``handled_at`` (wall clock):

- *throughput back*: seconds after the fault ended until a one-second window
  first handles at least half the commands per second handled before the fault;
- *backlog cleared*: seconds after the fault ended until every command first
  sent before the fault ended has its outcome.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from faultkit.checker import Findings, ReadLog
from faultkit.cluster import Cluster, FaultWindow
from faultkit.observe import ConsumerStats
from faultkit.publisher import Attempt, History
from faultkit.snapshot import Snapshot

STEP_S = 0.25


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    rows: list[tuple[str, str]]

    def table(self) -> str:
        width = max(len(name) for name, _ in self.rows)
        rule = "-" * (width + 40)
        lines = [rule, f"fault test: {self.title}", rule]
        lines += [f"{name.ljust(width)}  {value}" for name, value in self.rows]
        return "\n".join([*lines, rule])


def throughput_back(times: list[float], window: FaultWindow) -> float | None:
    before = [t for t in times if t < window.started]
    if len(before) < 2 or window.started - before[0] < 2:
        return None
    threshold = len(before) / (window.started - before[0]) / 2
    after = [t for t in times if t >= window.ended]
    if not after:
        return None
    for step in range(int((after[-1] - window.ended) / STEP_S) + 1):
        start = window.ended + step * STEP_S
        if sum(1 for t in after if start <= t < start + 1) >= threshold:
            return start - window.ended
    return None


def backlog_cleared(history: History, snapshot: Snapshot, window: FaultWindow) -> float | None:
    handled = [
        snapshot.handled_at[p.command.command_id]
        for p in history.publications.values()
        if p.sent_at is not None
        and p.sent_at < window.ended
        and p.command.command_id in snapshot.handled_at
    ]
    return max(max(handled) - window.ended, 0.0) if handled else None


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def _recovery(history: History, snapshot: Snapshot, windows: list[FaultWindow]) -> str:
    times = sorted(snapshot.handled_at.values())
    return "; ".join(
        f"{w.label} ({w.ended - w.started:.1f} s): throughput back "
        f"{_seconds(throughput_back(times, w))}, backlog cleared "
        f"{_seconds(backlog_cleared(history, snapshot, w))}"
        for w in windows
    )


def _reads(readers: list[ReadLog]) -> str:
    return "; ".join(
        f"{r.name}: {len(r.versions)} reads, versions {min(r.versions)}..{max(r.versions)}"
        if r.versions
        else f"{r.name}: no reads"
        for r in readers
    )


def _redeliveries(stats: ConsumerStats) -> str:
    if stats.redeliveries >= 0:
        return str(stats.redeliveries)
    return (
        f"unknown: {stats.deliveries} deliveries < stream sequence {stats.last_stream_seq} "
        "(the consumer's state came back from before the broker's crash)"
    )


def _publish_rows(history: History, snapshot: Snapshot) -> list[tuple[str, str]]:
    publications = list(history.publications.values())
    count = Counter(p.status for p in publications)
    unsure = [p for p in publications if Attempt.UNKNOWN in p.attempts]
    unsure_applied = sum(1 for p in unsure if p.command.command_id in snapshot.outcomes)
    recovered = sum(
        1
        for p in publications
        if p.attempts[:1] != [Attempt.OK] and p.command.command_id in snapshot.outcomes
    )
    return [
        ("commands sent", f"{len(publications)} (+{len(history.direct)} written directly)"),
        ("publishes acknowledged", str(count[Attempt.OK])),
        ("publishes failed / unknown", f"{count[Attempt.FAILED]} / {count[Attempt.UNKNOWN]}"),
        ("publishes retried", str(sum(1 for p in publications if len(p.attempts) > 1))),
        ("recovered (first publish not ok)", str(recovered)),
        ("unknown publishes applied / not", f"{unsure_applied} / {len(unsure) - unsure_applied}"),
    ]


def build_report(
    title: str,
    cluster: Cluster,
    history: History,
    snapshot: Snapshot,
    findings: Findings,
    drain_s: float | None,
    readers: list[ReadLog],
) -> Report:
    recognised = sum(
        1 for p in cluster.encryptors for r in p.log_events("message_handled") if r.get("duplicate")
    )
    rows = [
        *_publish_rows(history, snapshot),
        *findings.progress.rows(),
        ("lost", str(findings.lost)),
        ("duplicated", str(findings.duplicated)),
        ("redeliveries (encryptor consumer)", _redeliveries(snapshot.consumer)),
        ("duplicates found already done", str(recognised)),
        ("version reads (I5)", _reads(readers) or "no reader"),
        ("events logged / relayed", f"{len(snapshot.events)} / {len(snapshot.relayed)}"),
        ("hash chain", "ok" if snapshot.chain.ok else f"BROKEN: {snapshot.chain.problem}"),
        ("drain", _seconds(drain_s)),
        ("recovery", _recovery(history, snapshot, cluster.faults) or "no fault window"),
        ("process starts", ", ".join(f"{p.name}={p.starts}" for p in cluster.processes)),
        ("exits on their own", "; ".join(map(str, cluster.exits)) or "none"),
        ("invariants I1-I7, progress", "all hold" if findings.ok else findings.summary()),
    ]
    return Report(title, rows)
