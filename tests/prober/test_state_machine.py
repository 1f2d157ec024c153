"""The status state machine, table-driven: every transition, flapping, suppression, suspension.

A run is a string of results, one letter each (spaces are ignored): ``S`` success
within the SLO, ``L`` slow success, ``F`` failure (timeout), ``A`` auth failure.
A leading ``m`` marks a manual check; a trailing ``*`` means a dependency is down for
that check. Results are 60 s apart. Expected events are written compactly:
``a>b`` for ``HealthStatusChanged(previous=a, status=b)``, then ``raise``,
``resolve`` and ``suspend``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connmgr.schemas.events import AlertRaised, AlertResolved, HealthStatusChanged, ProbeSuspended
from connmgr.schemas.health import HealthCheckSettings, HealthStatus
from connmgr.workers.prober import flapping
from connmgr.workers.prober.state_machine import (
    Context,
    Observation,
    ProbeEvent,
    ProbeState,
    Transition,
    resume,
    step,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SETTINGS = HealthCheckSettings(
    failure_threshold=3, recovery_threshold=2, latency_slo_ms=100, auth_failure_limit=3
)
RESULTS = {
    "S": ("ok", 10.0),
    "L": ("ok", 500.0),
    "F": ("timeout", 5000.0),
    "A": ("auth_failed", 5.0),
}
TOKEN = re.compile(r"(m?)([SLFA])(\*?)")


@dataclass
class Run:
    state: ProbeState
    transitions: list[Transition] = field(default_factory=list)

    @property
    def events(self) -> list[ProbeEvent]:
        return [event for transition in self.transitions for event in transition.events]

    @property
    def compact(self) -> list[str]:
        return [describe(event) for event in self.events]


def describe(event: ProbeEvent) -> str:
    if isinstance(event, HealthStatusChanged):
        return f"{event.previous}>{event.status}"
    return {AlertRaised: "raise", AlertResolved: "resolve", ProbeSuspended: "suspend"}[type(event)]


def alert_ids() -> Callable[[], UUID]:
    numbers = count(1)
    return lambda: UUID(int=next(numbers))


def observation(letter: str, index: int, *, manual: bool = False) -> Observation:
    outcome, latency = RESULTS[letter]
    return Observation(outcome, latency, T0 + timedelta(seconds=60 * index), manual)


def run(
    results: str,
    health: HealthCheckSettings = SETTINGS,
    state: ProbeState | None = None,
    start: int = 0,
) -> Run:
    progress = Run(state or ProbeState.initial("c-1", "default"))
    new_alert_id = alert_ids()
    for index, (manual, letter, deps_down) in enumerate(TOKEN.findall(results), start=start):
        context = Context(settings=health, dependencies_down=bool(deps_down))
        seen = observation(letter, index, manual=bool(manual))
        transition = step(progress.state, seen, context, new_alert_id=new_alert_id)
        progress.transitions.append(transition)
        progress.state = transition.state
    return progress


ALTERNATING = "SFSFSFSFSF"  # ten results, nine flips: flapping on the tenth
DOWN_THEN_ALTERNATING = "FFF SFSFSFS"  # down and alerted, flapping on the tenth result

TRANSITIONS = [
    ("unknown to healthy on the first success", "S", "unknown>healthy", "healthy"),
    ("unknown to degraded on a slow success", "L", "unknown>degraded", "degraded"),
    ("unknown to degraded on a failure", "F", "unknown>degraded", "degraded"),
    (
        "unknown to down after threshold failures",
        "FFF",
        "unknown>degraded degraded>down raise",
        "down",
    ),
    ("healthy to degraded when slow", "SL", "unknown>healthy healthy>degraded", "degraded"),
    (
        "healthy to degraded on failures below the threshold",
        "SFF",
        "unknown>healthy healthy>degraded",
        "degraded",
    ),
    (
        "healthy to down after threshold failures",
        "SFFF",
        "unknown>healthy healthy>degraded degraded>down raise",
        "down",
    ),
    (
        "degraded to healthy after recovery-threshold fast successes",
        "SL SS",
        "unknown>healthy healthy>degraded degraded>healthy",
        "healthy",
    ),
    (
        "degraded stays while fast successes are interrupted by slow ones",
        "SL SL SL S",
        "unknown>healthy healthy>degraded",
        "degraded",
    ),
    (
        "degraded by failures needs recovery-threshold successes",
        "SF S",
        "unknown>healthy healthy>degraded",
        "degraded",
    ),
    (
        "down stays down before the recovery threshold",
        "FFF S",
        "unknown>degraded degraded>down raise",
        "down",
    ),
    (
        "down to healthy after the recovery threshold",
        "FFF SS",
        "unknown>degraded degraded>down raise down>healthy resolve",
        "healthy",
    ),
    (
        "down to degraded on a slow recovery",
        "FFF SL",
        "unknown>degraded degraded>down raise down>degraded resolve",
        "degraded",
    ),
    (
        "a failure mid-recovery keeps it down and restarts the count",
        "FFF SF S",
        "unknown>degraded degraded>down raise",
        "down",
    ),
    (
        "after a slow recovery it takes fresh fast successes to be healthy",
        "FFF LL S S",
        "unknown>degraded degraded>down raise down>degraded resolve degraded>healthy",
        "healthy",
    ),
    ("steady healthy emits nothing more", "SSSSSS", "unknown>healthy", "healthy"),
    ("steady slow emits nothing more", "LLLLLL", "unknown>degraded", "degraded"),
    ("steady down raises one alert", "FFFFFFFF", "unknown>degraded degraded>down raise", "down"),
    (
        "one alert per outage, a new one for the next",
        "FFF SS FFF",
        "unknown>degraded degraded>down raise down>healthy resolve "
        "healthy>degraded degraded>down raise",
        "down",
    ),
    (
        "slow and fast successes never flap",
        "SLSLSLSLSLSLSLSLSLSL",
        "unknown>healthy healthy>degraded",
        "degraded",
    ),
]

FLAPPING = [
    (
        "entry: flips over the window make it flapping",
        ALTERNATING,
        "unknown>healthy healthy>degraded degraded>flapping",
        "flapping",
    ),
    (
        "hold: failures while flapping raise no alert",
        ALTERNATING + "FFFF",
        "unknown>healthy healthy>degraded degraded>flapping",
        "flapping",
    ),
    (
        "hold: successes while flapping resolve no alert",
        DOWN_THEN_ALTERNATING + "SSS",
        "unknown>degraded degraded>down raise down>flapping",
        "flapping",
    ),
    (
        "settle without an open alert to healthy",
        ALTERNATING + "S" * 20,
        "unknown>healthy healthy>degraded degraded>flapping flapping>healthy",
        "healthy",
    ),
    (
        "settle without an open alert to down raises it",
        ALTERNATING + "F" * 20,
        "unknown>healthy healthy>degraded degraded>flapping flapping>down raise",
        "down",
    ),
    (
        "settle with an open alert to healthy resolves it",
        DOWN_THEN_ALTERNATING + "S" * 20,
        "unknown>degraded degraded>down raise down>flapping flapping>healthy resolve",
        "healthy",
    ),
    (
        "settle with an open alert to down raises no second alert",
        DOWN_THEN_ALTERNATING + "F" * 20,
        "unknown>degraded degraded>down raise down>flapping flapping>down",
        "down",
    ),
    (
        "settle to down while a dependency is down raises nothing",
        ALTERNATING + "F*" * 20,
        "unknown>healthy healthy>degraded degraded>flapping flapping>down",
        "down",
    ),
]

DEPENDENCIES = [
    (
        "no alert while a dependency is down",
        "F* F* F* F*",
        "unknown>degraded degraded>down",
        "down",
    ),
    (
        "resolution is never suppressed",
        "FFF S* S*",
        "unknown>degraded degraded>down raise down>healthy resolve",
        "healthy",
    ),
    (
        "still failing after the dependency recovered: alerted then",
        "F* F* F* F",
        "unknown>degraded degraded>down raise",
        "down",
    ),
    (
        "recovering after the dependency recovered: not alerted",
        "F* F* F* SS",
        "unknown>degraded degraded>down down>healthy",
        "healthy",
    ),
]

SUSPENSION = [
    (
        "auth failures suspend probing once",
        "S AAA",
        "unknown>healthy healthy>degraded degraded>suspended suspend",
        "suspended",
    ),
    (
        "scheduled checks are ignored while suspended",
        "S AAA SFSA",
        "unknown>healthy healthy>degraded degraded>suspended suspend",
        "suspended",
    ),
    (
        "a manual check resumes and runs the rules",
        "S AAA mS",
        "unknown>healthy healthy>degraded degraded>suspended suspend suspended>healthy",
        "healthy",
    ),
    (
        "after a manual resume auth failures count afresh",
        "AAA mA A",
        "unknown>degraded degraded>suspended suspend suspended>degraded",
        "degraded",
    ),
    (
        "suspension during an outage keeps the alert until recovery",
        "FFF AAA mS S",
        "unknown>degraded degraded>down raise down>suspended suspend "
        "suspended>down down>healthy resolve",
        "healthy",
    ),
    (
        "other failures reset the auth count",
        "AAFAA",
        "unknown>degraded degraded>down raise",
        "down",
    ),
]


def _ids(cases: list[tuple[str, str, str, str]]) -> list[str]:
    return [case[0] for case in cases]


@pytest.mark.parametrize(
    ("name", "results", "expected", "final"),
    TRANSITIONS + FLAPPING + DEPENDENCIES + SUSPENSION,
    ids=_ids(TRANSITIONS + FLAPPING + DEPENDENCIES + SUSPENSION),
)
def test_transitions(name: str, results: str, expected: str, final: str) -> None:
    outcome = run(results)

    assert " ".join(outcome.compact) == expected
    assert outcome.state.status == final


REASONS = [
    ("S", "first success"),
    ("SL", "latency above SLO"),
    ("SF", "failures below threshold"),
    ("FFF", "3 consecutive failures"),
    ("FFF SS", "recovered"),
    ("FFF SL", "recovered, latency above SLO"),
    ("SL SS", "recovered"),
    (ALTERNATING, "flapping"),
    (ALTERNATING + "S" * 20, "settled"),
    ("AAA", "auth failures"),
    ("FFF AAA mS", "not yet recovered"),
]


@pytest.mark.parametrize(("results", "reason"), REASONS)
def test_status_changes_say_why(results: str, reason: str) -> None:
    changes = [e for e in run(results).events if isinstance(e, HealthStatusChanged)]

    assert changes[-1].reason == reason


def test_alerts_carry_the_outage() -> None:
    outcome = run("FFF SS")
    raised, resolved = (e for e in outcome.events if isinstance(e, AlertRaised | AlertResolved))

    assert isinstance(raised, AlertRaised)
    assert isinstance(resolved, AlertResolved)
    assert (raised.alert_id, raised.status, raised.outcome) == (UUID(int=1), "down", "timeout")
    assert (raised.reason, raised.raised_at) == (
        "3 consecutive failures",
        T0 + timedelta(minutes=2),
    )
    assert resolved.alert_id == raised.alert_id
    assert resolved.open_s == 120.0
    assert outcome.state.open_alert_id is None


def test_the_state_records_counts_and_since_when() -> None:
    state = run("SS FF").state

    assert state.status is HealthStatus.DEGRADED
    assert state.status_since == T0 + timedelta(minutes=2)
    assert state.last_check_at == T0 + timedelta(minutes=3)
    assert (state.consecutive_failures, state.consecutive_successes) == (2, 0)
    assert state.recent == "SSFF"


def test_recent_keeps_the_window() -> None:
    assert run("S" * 30 + "F").state.recent == "S" * 19 + "F"


def test_ignored_observations_change_nothing() -> None:
    suspended = run("AAA").state
    scheduled = step(
        suspended, observation("S", 9), Context(SETTINGS, False), new_alert_id=alert_ids()
    )
    stale = step(
        run("S").state, observation("F", 0), Context(SETTINGS, False), new_alert_id=alert_ids()
    )

    assert (scheduled.sampled, scheduled.events, scheduled.state) == (False, [], suspended)
    assert (stale.sampled, stale.events) == (False, [])


def test_the_state_keeps_the_latency_of_the_check_it_last_counted() -> None:
    counted = run("S L").state
    stale = step(counted, observation("F", 0), Context(SETTINGS, False), new_alert_id=alert_ids())

    assert ProbeState.initial("c-1", "default").last_latency_ms is None
    assert (counted.last_check_at, counted.last_latency_ms) == (T0 + timedelta(seconds=60), 500.0)
    assert stale.state.last_latency_ms == 500.0  # an older check does not overwrite it
    assert run("AAA").state.last_latency_ms == 5.0  # nor does suspending drop it


def test_suspension_is_reported_once_with_its_count() -> None:
    suspensions = [e for e in run("AAA AAA").events if isinstance(e, ProbeSuspended)]

    assert [(e.reason, e.consecutive) for e in suspensions] == [("auth_failed", 3)]


def test_resume_after_an_update_restarts_probing() -> None:
    suspended = run("S AAA").state
    resumed = resume(suspended)
    after = run("S", state=resumed, start=10)

    assert resumed.suspended is False
    assert resumed.status is HealthStatus.SUSPENDED  # until the next check decides
    assert (resumed.consecutive_auth_failures, resumed.recent) == (0, "")
    assert after.compact == ["suspended>healthy"]
    assert resume(after.state) is after.state


def test_the_row_round_trips() -> None:
    state = run("FFF").state
    row = state.to_row()

    assert row["open_alert_id"] == str(UUID(int=1))
    assert row["status"] == "down"
    assert row["updated_at"] == state.last_check_at
    assert ProbeState.from_row(row) == state


@pytest.mark.parametrize(
    ("recent", "was_flapping", "expected"),
    [
        ("SFSFSFSFS", False, False),  # too few results to judge
        ("SFSFSFSFSF", False, True),  # 9 flips of 9
        ("SSSSSSFFFFFFSSSSSSFF", False, False),  # 3 of 19
        ("SSSSFSFSFSSSSSSSSSSS", False, False),  # 6 of 19: between the bounds
        ("SSSSFSFSFSSSSSSSSSSS", True, True),  # ...so flapping stays flapping
        ("SSSSSSSSSSSSSSFSFSSS", True, False),  # 4 of 19: below half, settled
        ("LLLLLLLLLLSSSSSSSSSS", False, False),  # slow/fast is not a flip
        ("FAFAFAFAFAFAFAFAFAFA", False, False),  # nor is failure/auth failure
    ],
)
def test_flap_detection_has_hysteresis(recent: str, was_flapping: bool, expected: bool) -> None:
    assert flapping.is_flapping(recent, was_flapping, 0.5) is expected


def test_context_rejects_a_window_the_row_cannot_hold() -> None:
    with pytest.raises(ValueError, match="window"):
        Context(SETTINGS, False, window=40)


def test_observations_need_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Observation("ok", 1.0, datetime(2025, 1, 1), False)


CHECKS = st.tuples(
    st.sampled_from("SLFA"),
    st.integers(0, 9).map(lambda n: n == 0),  # manual, sometimes
    st.booleans(),  # a dependency down
)
HEALTH = st.builds(
    HealthCheckSettings,
    failure_threshold=st.integers(1, 4),
    recovery_threshold=st.integers(1, 4),
    auth_failure_limit=st.integers(1, 5),
    latency_slo_ms=st.just(100),
)


@settings(max_examples=300, deadline=None)
@given(checks=st.lists(CHECKS, max_size=120), health=HEALTH, threshold=st.sampled_from([0.3, 0.5]))
def test_alerts_alternate_and_status_changes_chain(
    checks: list[tuple[str, bool, bool]], health: HealthCheckSettings, threshold: float
) -> None:
    state = ProbeState.initial("c-1", "default")
    status, open_alert, new_alert_id = "unknown", None, alert_ids()
    for index, (letter, manual, deps_down) in enumerate(checks):
        context = Context(health, deps_down, flap_threshold=threshold)
        transition = step(
            state, observation(letter, index, manual=manual), context, new_alert_id=new_alert_id
        )
        if not transition.sampled:
            assert (transition.events, transition.state) == ([], state)
        for event in transition.events:
            if isinstance(event, HealthStatusChanged):
                assert event.previous == status != event.status
                status = event.status
            elif isinstance(event, AlertRaised):
                assert open_alert is None
                assert not deps_down
                open_alert = event.alert_id
            elif isinstance(event, AlertResolved):
                assert event.alert_id == open_alert
                open_alert = None
        if transition.state.status in (HealthStatus.FLAPPING, HealthStatus.SUSPENDED):
            assert not any(isinstance(e, AlertRaised | AlertResolved) for e in transition.events)
        state = transition.state
        assert (state.status, state.open_alert_id) == (status, open_alert)
        assert len(state.recent) <= context.window
