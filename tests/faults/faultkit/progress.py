"""Progress: how much of the acknowledged work the system did, judged after the drain.

I1 and I2 say that nothing acknowledged was lost or applied twice; a pool that
rejected every command during the fault keeps both. So the checker also counts,
over the acknowledged publishes (last attempt ``ok``): applied (accepted),
rejected by reason, and without an outcome; and, of the ``test`` commands
applied, those with exactly one ``ConnectionTested`` (tested). Every one must be
applied, but for a rejection the test's fault explains: an ``Excuse`` names its
reason, why, and which commands it may cover. ``unresolved`` commands (a poison
still being retried) are left out. Computed from the drained snapshot, so no
timing enters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from faultkit.load import PlannedCommand
from faultkit.publisher import Attempt, History
from faultkit.snapshot import Snapshot

ENDS: Final = frozenset({"create", "delete"})
"""The commands that bring a connection into being and end it: a change needs both in order."""

Explains = Callable[[PlannedCommand, Snapshot, History], bool]
"""Whether an excuse covers this command, given what the system holds once drained."""


def any_command(command: PlannedCommand, snapshot: Snapshot, history: History) -> bool:
    return True


def only(*command_ids: str) -> Explains:
    """The named commands, and no other."""
    named = frozenset(command_ids)
    return lambda command, snapshot, history: command.command_id in named


def overtaken(command: PlannedCommand, snapshot: Snapshot, history: History) -> bool:
    """A change or a delete handled before its connection's create, or a change handled
    after its (accepted) delete or in the same batch (one batch shares one ``handled_at``,
    and the redelivery put the delete first in it): the stream's order undone."""
    handled = snapshot.handled_at.get(command.command_id)
    if handled is None or command.verb == "create":
        return False
    created = _handled_at(command.connection_id, "create", snapshot, history)
    deleted = _handled_at(command.connection_id, "delete", snapshot, history)
    if created is not None and handled < created:
        return True
    return command.verb != "delete" and deleted is not None and handled >= deleted


def _handled_at(
    connection_id: str, verb: str, snapshot: Snapshot, history: History
) -> float | None:
    """When the connection's accepted ``verb`` command was handled, if one was."""
    for publication in history.publications.values():
        command = publication.command
        outcome = snapshot.outcomes.get(command.command_id) or {}
        mine = command.connection_id == connection_id and command.verb == verb
        if mine and outcome.get("outcome") == "accepted":
            return snapshot.handled_at.get(command.command_id)
    return None


def raced_its_create_or_delete(
    command: PlannedCommand, snapshot: Snapshot, history: History
) -> bool:
    """A change sent while its connection's create, or its delete, was still unhandled: both
    were in the work queue at once, and two replicas' concurrent batches may take them in
    either order (the change before the create, or after the delete)."""
    sent = history.publications[command.command_id].sent_at
    handled = snapshot.handled_at.get(command.command_id)
    if command.verb in ENDS or sent is None or handled is None:
        return False
    created = _handled_at(command.connection_id, "create", snapshot, history)
    deleted = _handled_at(command.connection_id, "delete", snapshot, history)
    before_create = created is not None and created > sent
    after_delete = deleted is not None and deleted > sent and handled >= deleted
    return before_create or after_delete


@dataclass(frozen=True, slots=True)
class Excuse:
    """Rejections for ``reason`` that the fault explains (``why``), of the commands
    ``explains`` accepts."""

    reason: str
    why: str
    explains: Explains = any_command


OVERTAKEN: Final = Excuse(
    "not_found",
    "a change overtook its connection's create, or followed its delete, when the fault "
    "sent one of them back to the stream (redelivered after the ack wait, or nak'd)",
    overtaken,
)
"""The one rejection a fault that redelivers commands explains: replicas share the work
queue, so a redelivered create arrives after changes the other replica handled."""


RACED: Final = Excuse(
    "not_found",
    "a change sent while its create or delete was still unhandled, taken by the other "
    "replica before the create committed or after the delete did (both in the queue)",
    raced_its_create_or_delete,
)
"""Two replicas share the work queue: commands of one connection queued together may be
handled in either order, so a producer that needs order waits for each outcome."""


@dataclass
class Progress:
    """Counts over the acknowledged publishes, once the system is drained."""

    acknowledged: int = 0
    unresolved: int = 0
    applied: int = 0
    without_outcome: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    excused: Counter[str] = field(default_factory=Counter)
    tests_applied: int = 0
    tested: int = 0
    excuses: tuple[Excuse, ...] = ()

    @property
    def required(self) -> int:
        """The acknowledged commands that must be applied or excused."""
        return self.acknowledged - self.unresolved

    @property
    def complete(self) -> bool:
        return self.applied + self.excused.total() == self.required

    def rows(self) -> list[tuple[str, str]]:
        """The report's lines: the share applied, rejections by reason, and what excused them."""
        share = f"{self.applied / self.required:.1%}" if self.required else "n/a"
        whys = "; ".join(f"{e.reason}: {e.why}" for e in self.excuses) or "none"
        rows = [
            ("acknowledged applied (progress)", f"{self.applied} of {self.required} ({share})"),
            ("acknowledged rejected", f"{self.rejected.total()} {dict(self.rejected)}"),
            ("  excused by the fault", f"{self.excused.total()} {dict(self.excused)}"),
            ("  rejections the fault explains", whys),
            ("acknowledged, no outcome", f"{self.without_outcome} (+{self.unresolved} unresolved)"),
        ]
        if self.tests_applied:
            rows.append(("tested (one ConnectionTested)", f"{self.tested} of {self.tests_applied}"))
        return rows


def measure_progress(
    history: History,
    snapshot: Snapshot,
    unresolved: frozenset[str],
    excuses: Iterable[Excuse],
) -> tuple[Progress, list[str]]:
    """The progress figures, and a problem for each acknowledged command neither applied
    nor excused and each applied test without exactly one ``ConnectionTested``."""
    by_reason = {excuse.reason: excuse for excuse in excuses}
    tested = Counter(e.command_id for e in snapshot.events if e.type == "ConnectionTested")
    acknowledged = [p.command for p in history.with_status(Attempt.OK)]
    progress = Progress(acknowledged=len(acknowledged), excuses=tuple(by_reason.values()))
    problems: list[str] = []
    for command in acknowledged:
        outcome = snapshot.outcomes.get(command.command_id)
        if command.command_id in unresolved:
            progress.unresolved += 1
        elif outcome is None:
            progress.without_outcome += 1
        elif outcome["outcome"] == "accepted":
            progress.applied += 1
            problems += _tested(command, tested[command.command_id], progress)
        else:
            reason = str(outcome.get("reason"))
            progress.rejected[reason] += 1
            excuse = by_reason.get(reason)
            if excuse is not None and excuse.explains(command, snapshot, history):
                progress.excused[reason] += 1
            else:
                problems.append(
                    f"{command.verb} {command.command_id} rejected ({reason}), which the "
                    f"fault does not explain; {_timeline(command, snapshot, history)}"
                )
    if not progress.complete:
        problems.insert(
            0,
            f"{progress.applied} applied + {progress.excused.total()} excused "
            f"of {progress.required} acknowledged commands",
        )
    if not acknowledged and not history.direct:
        problems.append("nothing was acknowledged: the run proves nothing")
    return progress, problems


def _tested(command: PlannedCommand, events: int, progress: Progress) -> list[str]:
    """An applied ``test`` command must have exactly one ``ConnectionTested``."""
    if command.verb != "test":
        return []
    progress.tests_applied += 1
    progress.tested += events == 1
    return [] if events == 1 else [f"test {command.command_id}: {events} ConnectionTested, not 1"]


def _timeline(command: PlannedCommand, snapshot: Snapshot, history: History) -> str:
    """When this command and its connection's create and delete were sent and handled
    (seconds after this one was sent), for the post-mortem of a rejection."""
    sent = history.publications[command.command_id].sent_at or 0.0
    notes = []
    for publication in history.publications.values():
        other = publication.command
        mine = other.command_id == command.command_id
        if mine or (other.connection_id == command.connection_id and other.verb in ENDS):
            outcome = (snapshot.outcomes.get(other.command_id) or {}).get("outcome")
            handled = snapshot.handled_at.get(other.command_id)
            when = "never" if handled is None else f"{handled - sent:+.2f}"
            notes.append(
                f"{'it' if mine else other.verb}: sent {(publication.sent_at or 0) - sent:+.2f}, "
                f"handled {when} ({outcome})"
            )
    return "; ".join(notes)
