"""The checker itself: each invariant it guards is caught when a history breaks it.

A fault test that passes proves something only if its checker can fail; these
build small histories by hand, one violation each.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from faultkit.checker import ReadLog, check
from faultkit.load import PlannedCommand
from faultkit.observe import ConsumerStats, RelayedEvent
from faultkit.progress import RACED, Excuse, only, overtaken
from faultkit.publisher import Attempt, History, Publication
from faultkit.snapshot import LoggedEvent, Snapshot

from connmgr.storage.audit import AuditReport
from connmgr.storage.projection import ConnectionState

CONNECTION = "c0000000-0000-4000-8000-000000000001"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def state(version: int = 2) -> ConnectionState:
    return ConnectionState(
        id=CONNECTION, tenant="acme", name="n", kind="postgres", template=None, config={},
        auth={}, secrets=None, health_check={}, tags=(), description="", status="unknown",
        version=version, deleted=False, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def history(*statuses: list[Attempt]) -> History:
    result = History()
    for number, attempts in enumerate(statuses, start=1):
        command = PlannedCommand(f"cmd-{number}", "update", CONNECTION, "s", b"{}")
        result.publications[command.command_id] = Publication(command, list(attempts))
    return result


def logged(number: int, version: int | None = None) -> LoggedEvent:
    return LoggedEvent(
        number, f"evt-{number}", CONNECTION, version or number, "T", "acme", f"cmd-{number}"
    )


def relayed(number: int, version: int | None = None) -> RelayedEvent:
    return RelayedEvent(number, f"evt-{number}", f"evt-{number}", CONNECTION, version or number)


def world(**changes: object) -> Snapshot:
    """Two commands, each applied with one event at versions 1 and 2, all consistent."""
    snapshot = Snapshot(
        outcomes={f"cmd-{n}": {"outcome": "accepted", "events": ["T"]} for n in (1, 2)},
        handled_at={"cmd-1": 1.0, "cmd-2": 2.0},
        events=[logged(1), logged(2)],
        live={CONNECTION: state()},
        folded={CONNECTION: state()},
        chain=AuditReport(ok=True, events_checked=2, first_bad_position=None, problem=None),
        relayed=[relayed(1), relayed(2)],
        consumer=ConsumerStats(deliveries=2, last_stream_seq=2, pending=0, ack_pending=0),
    )
    return dataclasses.replace(snapshot, **changes)  # type: ignore[arg-type]


OK = [Attempt.OK]


def test_a_consistent_history_passes() -> None:
    findings = check(history(OK, OK), world(), [ReadLog("r", [1, 1, 2])])
    assert findings.ok, findings.summary()


def test_an_acknowledged_command_without_outcome_is_lost() -> None:
    outcomes = {"cmd-1": {"outcome": "accepted", "events": ["T"]}}
    findings = check(history(OK, OK), world(outcomes=outcomes, events=[logged(1)]))
    assert findings.lost == 1
    assert "I1" in findings.problems
    assert findings.progress.without_outcome == 1
    assert findings.problems["progress"] == ["1 applied + 0 excused of 2 acknowledged commands"]


def test_an_unresolved_command_is_not_counted_lost() -> None:
    outcomes = {"cmd-1": {"outcome": "accepted", "events": ["T"]}}
    snapshot = world(outcomes=outcomes, events=[logged(1)], relayed=[relayed(1)])
    findings = check(history(OK, OK), snapshot, unresolved=frozenset({"cmd-2"}))
    assert findings.ok, findings.summary()


def test_a_command_applied_twice_is_duplicated() -> None:
    twice = dataclasses.replace(logged(2), position=3, event_id="evt-3", version=3)
    findings = check(history(OK, OK), world(events=[logged(1), logged(2), twice]))
    assert findings.duplicated == 1
    assert "I2" in findings.problems


def test_a_gap_in_versions_is_caught() -> None:
    findings = check(history(OK, OK), world(events=[logged(1), logged(2, version=3)]))
    assert "I3" in findings.problems


def test_a_live_row_that_differs_from_the_fold_is_caught() -> None:
    findings = check(history(OK, OK), world(live={CONNECTION: state(version=1)}))
    assert "I4" in findings.problems


def test_a_version_read_going_down_is_caught() -> None:
    findings = check(history(OK, OK), world(), [ReadLog("r", [1, 2, 1])])
    assert "I5" in findings.problems


def test_a_refused_publish_that_was_applied_is_caught() -> None:
    findings = check(history(OK, [Attempt.FAILED]), world())
    assert "I6" in findings.problems


def test_an_unknown_publish_may_be_applied_once() -> None:
    findings = check(history(OK, [Attempt.UNKNOWN]), world())
    assert findings.ok, findings.summary()


def test_a_skipped_doubled_or_reordered_relay_is_caught() -> None:
    for messages in ([relayed(1)], [relayed(1), relayed(2), relayed(2)], [relayed(2), relayed(1)]):
        findings = check(history(OK, OK), world(relayed=messages))
        assert "I7" in findings.problems, messages


def test_a_broken_hash_chain_is_caught() -> None:
    broken = AuditReport(ok=False, events_checked=1, first_bad_position=2, problem="edited")
    findings = check(history(OK, OK), world(chain=broken))
    assert "chain" in findings.problems


def rejected(reason: str) -> dict[str, object]:
    return {"outcome": "rejected", "reason": reason, "events": ["T"]}


def all_rejected(reason: str) -> Snapshot:
    """Both commands rejected: one logged event each, so I1-I7 all hold."""
    return world(outcomes={f"cmd-{n}": rejected(reason) for n in (1, 2)})


def test_a_pool_that_rejected_everything_fails_on_progress_alone() -> None:
    findings = check(history(OK, OK), all_rejected("version_conflict"))
    assert set(findings.problems) == {"progress"}, findings.summary()
    assert (findings.progress.applied, findings.progress.required) == (0, 2)
    assert findings.progress.rejected == {"version_conflict": 2}


def test_a_consistent_history_applies_every_acknowledged_command() -> None:
    findings = check(history(OK, OK, [Attempt.FAILED]), world())
    assert findings.ok, findings.summary()
    assert (findings.progress.applied, findings.progress.acknowledged) == (2, 2)


def test_only_the_reason_the_fault_explains_is_excused() -> None:
    conflict = Excuse("version_conflict", "a stale expected_version")
    assert check(history(OK, OK), all_rejected("version_conflict"), excuses=[conflict]).ok
    findings = check(history(OK, OK), all_rejected("not_found"), excuses=[conflict])
    assert set(findings.problems) == {"progress"}, findings.summary()
    assert findings.progress.excused == {}


def test_an_excuse_for_named_commands_covers_no_other() -> None:
    poison = Excuse("max_deliveries", "the poison command", only("cmd-1"))
    outcomes = {"cmd-1": rejected("max_deliveries"), "cmd-2": rejected("max_deliveries")}
    findings = check(history(OK, OK), world(outcomes=outcomes), excuses=[poison])
    assert findings.progress.excused == {"max_deliveries": 1}
    assert any("cmd-2 rejected (max_deliveries)" in p for p in findings.problems["progress"])
    assert not any("cmd-1" in p for p in findings.problems["progress"])


def with_verbs(*verbs: str) -> History:
    """Acknowledged commands ``cmd-1``, ``cmd-2``, … of the connection, with these verbs."""
    sent = history(*[OK] * len(verbs))
    for publication, verb in zip(sent.publications.values(), verbs, strict=True):
        publication.command = dataclasses.replace(publication.command, verb=verb)
    return sent


ACCEPTED = {"outcome": "accepted", "events": ["T"]}
REORDERED = Excuse("not_found", "a redelivery undid the stream's order", overtaken)


def test_a_change_is_overtaken_only_when_handled_before_its_create() -> None:
    """cmd-1 creates the connection, cmd-2 updates it and is rejected ``not_found``."""
    outcomes = {"cmd-1": ACCEPTED, "cmd-2": rejected("not_found")}
    before = world(outcomes=outcomes, handled_at={"cmd-1": 2.0, "cmd-2": 1.0})
    assert check(with_verbs("create", "update"), before, excuses=[REORDERED]).ok
    after = world(outcomes=outcomes, handled_at={"cmd-1": 1.0, "cmd-2": 2.0})
    findings = check(with_verbs("create", "update"), after, excuses=[REORDERED])
    assert set(findings.problems) == {"progress"}, findings.summary()


def test_a_change_is_overtaken_when_handled_after_its_accepted_delete() -> None:
    """cmd-1 deletes the connection, cmd-2 (an update sent before it) is rejected after it
    or in the same batch (one ``handled_at``), never before it."""
    outcomes = {"cmd-1": ACCEPTED, "cmd-2": rejected("not_found")}
    snapshot = world(outcomes=outcomes, handled_at={"cmd-1": 1.0, "cmd-2": 2.0})
    assert check(with_verbs("delete", "update"), snapshot, excuses=[REORDERED]).ok
    same_batch = world(outcomes=outcomes, handled_at={"cmd-1": 1.0, "cmd-2": 1.0})
    assert check(with_verbs("delete", "update"), same_batch, excuses=[REORDERED]).ok
    before = world(outcomes=outcomes, handled_at={"cmd-1": 2.0, "cmd-2": 1.0})
    findings = check(with_verbs("delete", "update"), before, excuses=[REORDERED])
    assert set(findings.problems) == {"progress"}, findings.summary()
    refused = {"cmd-1": rejected("version_conflict"), "cmd-2": rejected("not_found")}
    snapshot = world(outcomes=refused, handled_at={"cmd-1": 1.0, "cmd-2": 2.0})
    findings = check(with_verbs("delete", "update"), snapshot, excuses=[REORDERED])
    assert any("cmd-2 rejected (not_found)" in p for p in findings.problems["progress"])


def test_an_applied_test_needs_exactly_one_connection_tested() -> None:
    sent = with_verbs("test", "test")
    tested = [dataclasses.replace(logged(n), type="ConnectionTested") for n in (1, 2)]
    findings = check(sent, world(events=tested))
    assert findings.ok, findings.summary()
    assert (findings.progress.tested, findings.progress.tests_applied) == (2, 2)
    findings = check(sent, world())  # accepted, but their events are no ConnectionTested
    assert set(findings.problems) == {"progress"}, findings.summary()
    assert findings.progress.tested == 0


def test_an_unresolved_command_is_not_required_to_be_applied() -> None:
    outcomes = {"cmd-1": {"outcome": "accepted", "events": ["T"]}}
    snapshot = world(outcomes=outcomes, events=[logged(1)], relayed=[relayed(1)])
    findings = check(history(OK, OK), snapshot, unresolved=frozenset({"cmd-2"}))
    assert (findings.progress.applied, findings.progress.required) == (1, 1)
    assert findings.ok, findings.summary()


def test_a_run_where_nothing_was_acknowledged_proves_nothing() -> None:
    empty = world(outcomes={}, handled_at={}, events=[], live={}, folded={}, relayed=[])
    findings = check(history([Attempt.FAILED]), empty)
    assert set(findings.problems) == {"progress"}, findings.summary()


def test_a_change_raced_its_create_only_when_sent_before_the_create_was_handled() -> None:
    """cmd-2, an update, is rejected ``not_found``; its create cmd-1 is handled at 2.0."""
    sent = with_verbs("create", "update")
    outcomes = {"cmd-1": ACCEPTED, "cmd-2": rejected("not_found")}
    snapshot = world(outcomes=outcomes, handled_at={"cmd-1": 2.0, "cmd-2": 3.0})
    sent.publications["cmd-2"].sent_at = 1.0  # while the create was in the queue
    assert check(sent, snapshot, excuses=[RACED]).ok
    sent.publications["cmd-2"].sent_at = 2.5  # the create was done: nothing to race
    findings = check(sent, snapshot, excuses=[RACED])
    assert set(findings.problems) == {"progress"}, findings.summary()


def test_a_change_raced_its_delete_only_when_sent_before_the_delete_was_handled() -> None:
    """cmd-1, a rotate, is rejected ``not_found`` at 3.0; its delete cmd-2 is handled at 2.0."""
    sent = with_verbs("rotate", "delete")
    outcomes = {"cmd-1": rejected("not_found"), "cmd-2": ACCEPTED}
    snapshot = world(outcomes=outcomes, handled_at={"cmd-1": 3.0, "cmd-2": 2.0})
    sent.publications["cmd-1"].sent_at = 1.0  # queued with the delete, taken after it
    assert check(sent, snapshot, excuses=[RACED]).ok
    sent.publications["cmd-1"].sent_at = 2.5  # the delete was done: nothing to race
    findings = check(sent, snapshot, excuses=[RACED])
    assert set(findings.problems) == {"progress"}, findings.summary()
    early = world(outcomes=outcomes, handled_at={"cmd-1": 1.5, "cmd-2": 2.0})
    sent.publications["cmd-1"].sent_at = 1.0  # handled before the delete: no race explains it
    findings = check(sent, early, excuses=[RACED])
    assert set(findings.problems) == {"progress"}, findings.summary()
