"""The checker: the invariants I1-I7 of ``docs/reliability.md`` over the whole recorded history.

Pure functions of the history (what clients were told), the snapshot (what the
system holds once drained) and the readers' observations. Each finding names
its invariant; the test fails when there is any.

- I1 every acknowledged publish (and every outcome the test wrote itself) has
  an outcome row and its events in the log; ``unresolved`` commands (a poison
  still being retried) are exempt;
- I2 each command's events in the log number exactly what its one outcome
  says, no event belongs to a command without an outcome, and no outcome
  belongs to a command nobody sent;
- I3 per stream, versions are 1..n;
- I4 the projection folded from the whole log equals the live table;
- I5 each reader saw versions that never went down;
- I6 a publish that never reached the broker was not applied (one that may
  have, ``unknown``, is held to once-or-never by I2);
- I7 every event with a tenant reached the event stream exactly once under
  ``Nats-Msg-Id`` = its event id, in version order per stream, and nothing else did;
- the hash chain verifies;
- progress (``faultkit.progress``): every acknowledged command was applied, but
  for rejections the test names as explained by its fault; every applied
  ``test`` has one ``ConnectionTested``. Nothing lost is not enough: a pool that
  rejected everything during the fault loses nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from faultkit.progress import Excuse, Progress, measure_progress
from faultkit.publisher import Attempt, History
from faultkit.snapshot import Snapshot

SHOWN = 5  # problems listed per invariant; the count says how many there were


@dataclass(frozen=True, slots=True)
class ReadLog:
    """Versions one client read of one connection, in the order it read them."""

    name: str
    versions: list[int]


@dataclass
class Findings:
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lost: int = 0
    duplicated: int = 0
    progress: Progress = field(default_factory=Progress)

    def add(self, invariant: str, problem: str) -> None:
        self.problems[invariant].append(problem)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def summary(self) -> str:
        lines = []
        for invariant, problems in sorted(self.problems.items()):
            lines.append(f"{invariant}: {len(problems)} problem(s)")
            lines += [f"  - {problem}" for problem in problems[:SHOWN]]
        return "\n".join(lines)


def check(
    history: History,
    snapshot: Snapshot,
    readers: list[ReadLog] | None = None,
    unresolved: frozenset[str] = frozenset(),
    excuses: Iterable[Excuse] = (),
) -> Findings:
    """Every finding on the history; ``excuses`` name the rejections the fault explains."""
    findings = Findings()
    _nothing_lost(history, snapshot, unresolved, findings)
    _nothing_twice(history, snapshot, findings)
    _versions_contiguous(snapshot, findings)
    _projection_is_the_fold(snapshot, findings)
    for reader in readers or []:
        _reads_monotonic(reader, findings)
    _refused_publishes_not_applied(history, snapshot, findings)
    if snapshot.relayed or any(event.tenant for event in snapshot.events):
        _relay_complete(snapshot, findings)
    if not snapshot.chain.ok:
        findings.add("chain", f"{snapshot.chain.problem} at {snapshot.chain.first_bad_position}")
    findings.progress, problems = measure_progress(history, snapshot, unresolved, excuses)
    for problem in problems:
        findings.add("progress", problem)
    return findings


def _effects(snapshot: Snapshot) -> Counter[str]:
    return Counter(event.command_id for event in snapshot.events if event.command_id)


def _nothing_lost(
    history: History, snapshot: Snapshot, unresolved: frozenset[str], findings: Findings
) -> None:
    acknowledged = [p.command.command_id for p in history.with_status(Attempt.OK)]
    effects = _effects(snapshot)
    for command_id in [*acknowledged, *history.direct]:
        if command_id in unresolved:
            continue
        outcome = snapshot.outcomes.get(command_id)
        if outcome is None:
            findings.lost += 1
            findings.add("I1", f"acknowledged command {command_id} has no outcome")
        elif outcome["events"] and not effects[command_id]:
            findings.lost += 1
            findings.add("I1", f"command {command_id}: outcome recorded, its events are not")


def _nothing_twice(history: History, snapshot: Snapshot, findings: Findings) -> None:
    effects = _effects(snapshot)
    for command_id, outcome in snapshot.outcomes.items():
        expected, actual = len(outcome["events"]), effects[command_id]
        if actual > expected:
            findings.duplicated += 1
        if actual != expected:
            findings.add("I2", f"command {command_id}: outcome has {expected} events, log {actual}")
    known = set(history.publications) | history.direct
    for command_id in effects.keys() - snapshot.outcomes.keys():
        findings.add("I2", f"events of command {command_id}, which has no outcome")
    for command_id in snapshot.outcomes.keys() - known:
        findings.add("I2", f"an outcome for {command_id}, which nobody sent")


def _versions_contiguous(snapshot: Snapshot, findings: Findings) -> None:
    streams: dict[str, list[int]] = defaultdict(list)
    for event in snapshot.events:
        streams[event.stream_id].append(event.version)
    for stream_id, versions in streams.items():
        if sorted(versions) != list(range(1, len(versions) + 1)):
            findings.add("I3", f"stream {stream_id} has versions {sorted(versions)[:12]}")


def _projection_is_the_fold(snapshot: Snapshot, findings: Findings) -> None:
    live, folded = snapshot.live, snapshot.folded
    for connection_id in sorted(live.keys() ^ folded.keys()):
        where = "live table" if connection_id in live else "fold of the log"
        findings.add("I4", f"connection {connection_id} is only in the {where}")
    for connection_id in sorted(live.keys() & folded.keys()):
        if live[connection_id] != folded[connection_id]:
            findings.add("I4", f"connection {connection_id}: live row differs from the fold")


def _reads_monotonic(reader: ReadLog, findings: Findings) -> None:
    for earlier, later in zip(reader.versions, reader.versions[1:], strict=False):
        if later < earlier:
            findings.add("I5", f"{reader.name} read version {later} after {earlier}")


def _refused_publishes_not_applied(
    history: History, snapshot: Snapshot, findings: Findings
) -> None:
    for publication in history.publications.values():
        command_id = publication.command.command_id
        if not publication.maybe_stored and command_id in snapshot.outcomes:
            findings.add("I6", f"command {command_id} was refused on every publish, yet applied")


def _relay_complete(snapshot: Snapshot, findings: Findings) -> None:
    relayed = Counter(message.msg_id for message in snapshot.relayed)
    logged = {event.event_id for event in snapshot.events}
    for event in snapshot.events:
        if event.tenant and relayed[event.event_id] != 1:
            findings.add("I7", f"event {event.event_id} was relayed {relayed[event.event_id]}x")
            findings.duplicated += relayed[event.event_id] > 1
    last_version: dict[str, int] = {}
    for message in snapshot.relayed:
        if message.msg_id != message.event_id or message.event_id not in logged:
            findings.add("I7", f"stream message {message.sequence} is no logged event")
        if message.version <= last_version.get(message.stream_id, 0):
            findings.add(
                "I7", f"stream {message.stream_id}: version {message.version} out of order"
            )
        last_version[message.stream_id] = message.version
