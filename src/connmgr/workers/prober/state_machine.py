"""The status state machine: one check result in, the next probe state and its events out.

Pure and deterministic (alert ids come from ``new_alert_id``). ``ProbeState`` is the
``probe_state`` row; the caller saves ``Transition.state`` and appends its events.
The data types live in ``probe_state`` and are importable from here too.

- Ignored (``sampled=False``, nothing changes): a scheduled check while suspended,
  and an observation not newer than ``last_check_at`` (redelivered or out of order).
- ``ok`` within ``latency_slo_ms`` is a success, above it a slow success; anything
  else, ``auth_failed`` included, is a failure.
- unknown → healthy on the first success; a slow success → degraded; failures below
  ``failure_threshold`` → degraded, that many in a row → down; degraded → healthy
  after ``recovery_threshold`` fast successes in a row; down → healthy (degraded if
  the last was slow) after ``recovery_threshold`` successes of any speed in a row. A
  failure while down keeps it down and restarts the count: ``consecutive_successes``
  counts every success while down, elsewhere a slow one resets it.
- Flapping (see ``flapping``) overrides the rules: counters move, no status or alert
  events until it settles; the rules then run from ``down`` if an alert is open,
  else from ``degraded`` (it takes the thresholds to be believed again).
- Alerts: outside flapping and suspension an open alert means ``down``. A failure
  that leaves ``down`` without an open alert raises one unless a dependency is down,
  so a connection still failing after its dependency recovered is alerted on its
  next failure, and one already recovering is not. Leaving ``down`` resolves the
  alert (never suppressed). Raises and resolves alternate.
- ``auth_failure_limit`` ``auth_failed`` in a row suspend probing: status
  ``suspended`` (over any other status that step), one ``ProbeSuspended`` and no
  alert (``ProbeSuspended`` is the signal); an open alert stays open. A manual check
  or ``resume`` restarts counters and history; the rules then run from ``down`` if
  an alert is open, else from ``unknown``.
- Events, in order: ``HealthStatusChanged`` only when the status changes (``previous``
  is the prior status), then ``AlertRaised``/``AlertResolved`` or ``ProbeSuspended``.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from connmgr.schemas.events import AlertRaised, AlertResolved, HealthStatusChanged, ProbeSuspended
from connmgr.schemas.health import HealthCheckSettings, HealthStatus
from connmgr.workers.prober import flapping
from connmgr.workers.prober.probe_state import (
    Context,
    Events,
    NewAlertId,
    Observation,
    ProbeEvent,
    ProbeState,
    Transition,
)

# The machine's public types live in probe_state; they are imported from here.
__all__ = ["Context", "Observation", "ProbeEvent", "ProbeState", "Transition", "resume", "step"]

Moved = tuple[ProbeState, Events]

_DOWN = HealthStatus.DOWN
_DEGRADED = HealthStatus.DEGRADED
_FLAPPING = HealthStatus.FLAPPING
_SUSPENDED = HealthStatus.SUSPENDED


def step(
    state: ProbeState, observation: Observation, context: Context, *, new_alert_id: NewAlertId
) -> Transition:
    """Apply one observation: the next state and the events it caused, in order."""
    if _ignored(state, observation):
        return Transition(state, [], sampled=False)
    current = resume(state) if observation.manual else state
    basis, settings = _basis(current), context.settings
    letter = flapping.letter_for(observation.outcome, observation.latency_ms, settings)
    counted = _record(current, observation, letter, basis, context.window)
    if counted.consecutive_auth_failures >= settings.auth_failure_limit:
        return _suspend(counted, observation)
    status, reason = _rules(basis, letter, counted, settings)
    if letter == flapping.SLOW and status is not _DOWN:
        counted = replace(counted, consecutive_successes=0)  # a slow success ends a fast streak
    was_flapping = counted.status is _FLAPPING
    if flapping.is_flapping(counted.recent, was_flapping, context.flap_threshold):
        status, reason = _FLAPPING, "flapping"
    elif was_flapping:
        reason = "settled"
    moved, events = _change_status(counted, status, reason, observation)
    moved, alerts = _reconcile_alert(moved, letter, observation, context, new_alert_id)
    return Transition(moved, events + alerts)


def resume(state: ProbeState) -> ProbeState:
    """Resume a suspended probe (connection updated, or checked by hand); else a no-op.

    Counters and history restart; the status stays ``suspended`` until the next
    observation decides it, so ``HealthStatusChanged`` keeps chaining.
    """
    if not state.suspended:
        return state
    return replace(
        state,
        suspended=False,
        recent="",
        consecutive_failures=0,
        consecutive_successes=0,
        consecutive_auth_failures=0,
    )


def _ignored(state: ProbeState, observation: Observation) -> bool:
    if state.suspended and not observation.manual:
        return True
    return state.last_check_at is not None and observation.checked_at <= state.last_check_at


def _basis(state: ProbeState) -> HealthStatus:
    """The status the rules start from; flapping and suspended hide the real one."""
    if state.status not in (_FLAPPING, _SUSPENDED):
        return state.status
    if state.open_alert_id is not None:
        return _DOWN
    return _DEGRADED if state.status is _FLAPPING else HealthStatus.UNKNOWN


def _record(
    state: ProbeState, observation: Observation, letter: str, basis: HealthStatus, window: int
) -> ProbeState:
    failed, auth_failed = letter in flapping.FAILURES, letter == flapping.AUTH_FAILED
    counts = letter == flapping.FAST or (letter == flapping.SLOW and basis is _DOWN)
    return replace(
        state,
        last_check_at=observation.checked_at,
        last_latency_ms=observation.latency_ms,
        consecutive_failures=state.consecutive_failures + 1 if failed else 0,
        consecutive_successes=state.consecutive_successes + 1 if counts else 0,
        consecutive_auth_failures=state.consecutive_auth_failures + 1 if auth_failed else 0,
        recent=flapping.remember(state.recent, letter, window),
    )


def _rules(
    basis: HealthStatus, letter: str, state: ProbeState, settings: HealthCheckSettings
) -> tuple[HealthStatus, str]:
    """The status the counters say, flapping aside, and the reason for moving to it."""
    failures, successes = state.consecutive_failures, state.consecutive_successes
    if letter in flapping.FAILURES:
        if failures >= settings.failure_threshold or basis is _DOWN:
            return _DOWN, _failures_phrase(failures)
        return _DEGRADED, "failures below threshold"
    if basis in (_DOWN, _DEGRADED) and successes < settings.recovery_threshold:
        return basis, "not yet recovered"
    if letter == flapping.SLOW:
        return _DEGRADED, "recovered, latency above SLO" if basis is _DOWN else "latency above SLO"
    return HealthStatus.HEALTHY, "first success" if basis is HealthStatus.UNKNOWN else "recovered"


def _failures_phrase(failures: int) -> str:
    return f"{failures} consecutive failure{'' if failures == 1 else 's'}"


def _change_status(
    state: ProbeState, status: HealthStatus, reason: str, observation: Observation
) -> Moved:
    if status is state.status:
        return state, []
    event = HealthStatusChanged(
        previous=state.status.value,
        status=status.value,
        reason=reason,
        outcome=observation.outcome,
        changed_at=observation.checked_at,
    )
    return replace(state, status=status, status_since=observation.checked_at), [event]


def _suspend(state: ProbeState, observation: Observation) -> Transition:
    moved, events = _change_status(state, _SUSPENDED, "auth failures", observation)
    count, at = state.consecutive_auth_failures, observation.checked_at
    paused = ProbeSuspended(reason="auth_failed", consecutive=count, suspended_at=at)
    return Transition(replace(moved, suspended=True), [*events, paused])


def _reconcile_alert(
    state: ProbeState, letter: str, observation: Observation, context: Context, new_id: NewAlertId
) -> Moved:
    """Raise on a failure that leaves ``down`` unalerted; resolve once out of ``down``."""
    if state.status is _FLAPPING:
        return state, []  # held until it settles
    if state.status is not _DOWN:
        return _resolve(state, observation) if state.open_alert_id else (state, [])
    unalerted = state.open_alert_id is None and not context.dependencies_down
    if unalerted and letter in flapping.FAILURES:
        return _raise(state, observation, new_id())
    return state, []


def _raise(state: ProbeState, observation: Observation, alert_id: UUID) -> Moved:
    event = AlertRaised(
        alert_id=alert_id,
        status=_DOWN.value,
        reason=_failures_phrase(state.consecutive_failures),
        outcome=observation.outcome,
        detail=observation.detail,
        raised_at=observation.checked_at,
    )
    return replace(state, open_alert_id=alert_id, alert_raised_at=observation.checked_at), [event]


def _resolve(state: ProbeState, observation: Observation) -> Moved:
    assert state.open_alert_id is not None
    raised_at = state.alert_raised_at or observation.checked_at
    event = AlertResolved(
        alert_id=state.open_alert_id,
        resolved_at=observation.checked_at,
        open_s=max(0.0, (observation.checked_at - raised_at).total_seconds()),
    )
    return replace(state, open_alert_id=None, alert_raised_at=None), [event]
