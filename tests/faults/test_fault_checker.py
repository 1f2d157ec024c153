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
